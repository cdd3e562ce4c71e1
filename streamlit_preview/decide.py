"""What a pull-request event asks of the action, decided from the event and the inputs alone.

Pure: `decide` reads the event and answers `Open`, `Sync`, `Close`, `Skip(reason)` or
`AskApproval(label)`; `action.run` carries the answer out (the way kopf keeps handlers apart
from its reactor). `target_from_event` reads the pull request the same way for a branch of
the repository and for a fork.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import validation
from .errors import InputError
from .inputs import DEFAULTS, MODES

# pull_request actions → mode, for `mode: auto`.
AUTO_MODES = {
    "opened": "open", "reopened": "open", "labeled": "open", "ready_for_review": "open",
    "synchronize": "sync", "closed": "close",
}  # fmt: skip
FORK_ACTIONS = ("labeled", "synchronize", "closed")


@dataclass(frozen=True)
class EventTarget:
    """The pull request an event is about, as the event says it (validated later)."""

    repository: str
    repo_url: str
    branch: str
    pr: int | str
    sha: str | None
    owner_is_org: bool
    private: bool
    fork: bool


@dataclass(frozen=True)
class Open:
    pin: str | None = None  # a fork's approved commit: serve exactly it
    approved_by: str | None = None  # who added the approval label: must have write access


@dataclass(frozen=True)
class Sync:
    pass


@dataclass(frozen=True)
class Close:
    pass


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class AskApproval:
    """A fork pushed new commits: take the label off and say a new approval is needed."""

    label: str


Decision = Open | Sync | Close | Skip | AskApproval
NOTHING_TO_DO = "nothing to do for this pull_request action"


def resolve_mode(mode: str, action: str | None) -> str | None:
    """The mode to run, or None when an `auto` event needs nothing done."""
    validation.choice("mode", mode or "auto", MODES)
    if mode and mode != "auto":
        return mode
    return AUTO_MODES.get(action or "")


def pull_request_of(event_name: str, event: Mapping[str, Any]) -> dict[str, Any]:
    pull = event.get("pull_request")
    if not isinstance(pull, dict):
        raise InputError(
            "event",
            f"{event_name or 'this event'} has no pull_request: run the action on pull_request or pull_request_target",
        )
    return pull


def target_from_event(event: Mapping[str, Any], *, repository: str = "") -> EventTarget:
    """The pull request of `event`; `repository` (GITHUB_REPOSITORY) when the event names none.

    A fork's preview clones the fork (`head.repo`); a head whose repository is gone (a
    deleted fork) counts as a fork with nothing to clone: fail closed.
    """
    pull = event.get("pull_request") or {}
    head = pull.get("head") or {}
    base_repo = event.get("repository") or {}
    head_repo = head.get("repo")
    base_name = base_repo.get("full_name") or repository
    head_name = head_repo.get("full_name") if isinstance(head_repo, dict) else None
    fork = not (head_name and base_name and head_name.lower() == base_name.lower())
    head_repo = head_repo if isinstance(head_repo, dict) else {}
    clone = head_repo.get("clone_url") or ("" if fork else base_repo.get("clone_url")) or ""
    owner = base_repo.get("owner") or {}
    return EventTarget(
        repository=base_name, repo_url=clone, branch=head.get("ref") or "",
        pr=pull.get("number") or event.get("number") or "", sha=head.get("sha"),
        owner_is_org=owner.get("type", "Organization") == "Organization",
        private=bool(head_repo.get("private") or base_repo.get("private")), fork=fork,
    )  # fmt: skip


def decide(event_name: str, event: Mapping[str, Any], inputs: Mapping[str, str]) -> Decision:
    """What the event asks for. Forks are previewed only once approved, and only from
    `pull_request_target` events (they carry the base repository's permissions and run no
    code of the fork here): `labeled` with the approval label opens at the head commit,
    `synchronize` asks for a new approval, `closed` closes."""
    pull = pull_request_of(event_name, event)
    action = event.get("action")
    closed = pull.get("state") == "closed"
    if not target_from_event(event).fork:
        mode = resolve_mode(inputs.get("mode", ""), action)
        if mode is None or (mode != "close" and closed):
            return Skip(NOTHING_TO_DO)  # `labeled` on a closed pull request opens nothing
        chosen: dict[str, Decision] = {"open": Open(), "sync": Sync(), "close": Close()}
        return chosen[mode]
    label = (inputs.get("approve-label") or "").strip() or DEFAULTS["approve-label"]
    if event_name != "pull_request_target" or action not in FORK_ACTIONS:
        return Skip(
            f"a pull request from a fork is previewed once someone with write access adds the '{label}' label"
        )
    if action == "closed":
        return Close()
    if closed:
        return Skip(NOTHING_TO_DO)
    if action == "synchronize":
        return AskApproval(label)
    if (event.get("label") or {}).get("name") != label:
        return Skip(NOTHING_TO_DO)
    sender = (event.get("sender") or {}).get("login") or ""
    return Open(pin=(pull.get("head") or {}).get("sha"), approved_by=sender)
