"""`decide.py`: what a pull-request event asks of the action, from the event alone
(table-driven, in process; tests/test_action.py and the cluster tests carry the answers out).

Events are shaped as GitHub sends them: the repository's own branch, a fork, a deleted fork."""

from __future__ import annotations

import pytest

from streamlit_preview.decide import (
    NOTHING_TO_DO,
    AskApproval,
    Close,
    Open,
    Skip,
    Sync,
    decide,
    target_from_event,
)
from streamlit_preview.errors import InputError

BASE = {"full_name": "acme/shop", "clone_url": "https://github.com/acme/shop.git", "private": False,
        "owner": {"login": "acme", "type": "Organization"}}  # fmt: skip
FORK = {
    "full_name": "outsider/shop",
    "clone_url": "https://github.com/outsider/shop.git",
    "private": False,
}
SHA = "a" * 40


def event(action: str, *, head_repo: dict | None = BASE, state: str = "open", label: str | None = None,
          sender: str = "maintainer") -> dict:  # fmt: skip
    data = {
        "action": action, "number": 7, "repository": BASE, "sender": {"login": sender},
        "pull_request": {"number": 7, "state": state,
                         "head": {"ref": "feature/x", "sha": SHA, "repo": head_repo}},
    }  # fmt: skip
    if label:
        data["label"] = {"name": label}
    return data


@pytest.mark.parametrize(
    ("action", "mode", "expected"),
    [
        ("opened", "", Open()),
        ("reopened", "auto", Open()),
        ("labeled", "", Open()),
        ("synchronize", "", Sync()),
        ("closed", "", Close()),
        ("assigned", "", Skip(NOTHING_TO_DO)),
        ("assigned", "sync", Sync()),  # an explicit mode wins
    ],
)
def test_a_branch_of_the_repository(action, mode, expected):
    state = "closed" if action == "closed" else "open"
    assert decide("pull_request", event(action, state=state), {"mode": mode}) == expected


def test_nothing_opens_on_a_closed_pull_request():
    assert decide("pull_request", event("labeled", state="closed"), {}) == Skip(NOTHING_TO_DO)


@pytest.mark.parametrize(
    ("name", "action", "label", "expected"),
    [
        ("pull_request", "opened", None, "fork"),  # forks wait for an approval
        ("pull_request_target", "opened", None, "fork"),
        ("pull_request_target", "labeled", "preview", Open(pin=SHA, approved_by="maintainer")),
        ("pull_request_target", "labeled", "bug", Skip(NOTHING_TO_DO)),
        ("pull_request_target", "synchronize", None, AskApproval("preview")),
        ("pull_request_target", "closed", None, Close()),
    ],
)
def test_a_fork(name, action, label, expected):
    state = "closed" if action == "closed" else "open"
    decided = decide(name, event(action, head_repo=FORK, state=state, label=label), {})
    if expected == "fork":
        assert (
            isinstance(decided, Skip) and "fork" in decided.reason and "'preview'" in decided.reason
        )
    else:
        assert decided == expected


def test_a_deleted_fork_is_a_fork_with_nothing_to_clone():
    gone = event("opened", head_repo=None)
    assert isinstance(decide("pull_request", gone, {}), Skip)
    target = target_from_event(gone)
    assert target.fork and target.repo_url == "" and target.repository == "acme/shop"


def test_the_approval_label_is_an_input():
    custom = event("labeled", head_repo=FORK, label="safe-to-preview")
    assert decide("pull_request_target", custom, {"approve-label": "safe-to-preview"}) == Open(
        pin=SHA, approved_by="maintainer"
    )


def test_one_target_for_both_flows():
    own, fork = (
        target_from_event(event("opened")),
        target_from_event(event("opened", head_repo=FORK)),
    )
    assert (own.fork, own.repo_url) == (False, BASE["clone_url"])
    assert (fork.fork, fork.repo_url) == (True, FORK["clone_url"])
    assert own.repository == fork.repository == "acme/shop" and own.owner_is_org
    assert (own.branch, own.pr, own.sha) == ("feature/x", 7, SHA)


def test_an_event_without_a_pull_request_is_bad_input():
    with pytest.raises(InputError, match="push has no pull_request"):
        decide("push", {"ref": "refs/heads/main"}, {})
    with pytest.raises(InputError, match="mode"):
        decide("pull_request", event("opened"), {"mode": "deploy"})
