"""The interface `lifecycle` needs from a place that runs environments.

A third backend (a VM over SSH, say) is one new module implementing these four verbs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from ..config import Settings
from ..errors import SetupError

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Environment:
    """What a user is told about one environment (`--json`, outputs, the PR comment)."""

    environment: str
    url: str | None
    commit: str | None
    status: str  # running | starting | dead | damaged | closed | missing
    namespace: str | None = None
    branch: str | None = None
    pr: int | None = None
    repository: str | None = None
    expires_at: datetime | None = None  # from the `ttl` input (Kubernetes only)
    name: str | None = None  # the `name` input: one of several previews of the pull request
    access: str | None = None  # who may see it: `public`, `org:acme`, `team:acme/reviewers`
    access_note: str | None = None  # the same, said for the PR comment
    sign_in_url: str | None = None  # the cluster's shared sign-in, where there is one
    pinned: bool = False  # a fork's approved commit: a push never moves it
    private: bool = False  # cloned with a token: a webhook sync needs a lasting one

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        return data


def describe_sync(environment: str, answer: dict[str, object]) -> str:
    """The progress line for a reloader's `/sync` answer."""
    state = "changed" if answer.get("changed") else "already there"
    return f"{environment} at {str(answer['commit'])[:12]} ({state})"


class Backend(Protocol):
    """Open, sync, close and list environments; every call is idempotent."""

    name: str

    def open(self, settings: Settings, *, progress: Progress) -> Environment:
        """Create or update the environment and wait until it serves."""

    def sync(self, settings: Settings, *, progress: Progress) -> Environment | None:
        """Bring the environment to the branch head (or `settings.target.sha`).

        None when there is no such environment: `lifecycle` then opens it.
        """

    def close(self, settings: Settings, *, progress: Progress) -> bool:
        """Delete everything of the environment; False when there was nothing to delete."""

    def list(self) -> list[Environment]:
        """Every environment this backend manages."""

    def sync_to(
        self, environment: Environment, *, sha: str, git_token: str | None = None
    ) -> dict[str, object]:
        """Sync a running environment to `sha` (the webhook receiver's path); the reloader's
        `/sync` answer. No rollout, no report: only the signed call."""


def raise_if_setup_failed(environment: str, status: dict, url: str | None) -> None:
    """A failed `setup` fails the command, with its exit code and output's tail; the preview
    itself keeps running (Streamlit starts anyway, so the author sees the app's own error)."""
    setup = status.get("setup") or {}
    if setup.get("state") != "failed":
        return
    tail = " | ".join(line for line in (setup.get("tail") or [])[-5:] if line.strip())
    raise SetupError(
        f"{environment}: setup exited with {setup.get('exit_code')}"
        + (f": {tail}" if tail else "")
        + (f" (the preview runs anyway at {url})" if url else "")
    )
