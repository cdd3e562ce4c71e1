"""`webhooks.py`: deliveries GitHub really sent (github.com and GitHub Enterprise Server
3.1 to 3.5, the recorded examples in `fixtures/github_webhooks/`) parse; a body that lacks what the
receiver needs is refused in one line naming the field.

Covers: every recorded push and ping; a branch push, a tag push, a branch deletion, a created
branch, a force-push; nulls where GitHub sends them; a missing repository or commit."""

from __future__ import annotations

import json

import pytest

from streamlit_preview.webhooks import BadDelivery, parse_delivery
from tests.fixtures.webhooks import recorded

RECORDED = recorded()


def test_the_recording_holds_every_push_and_ping_github_sent_us():
    events = [key.split("/")[-2] for key in RECORDED]
    assert events.count("push") == 14 and events.count("ping") == 11


@pytest.mark.parametrize("key", sorted(RECORDED))
def test_every_recorded_delivery_is_accepted(key):
    event = key.split("/")[-2]
    parsed = parse_delivery(event, json.dumps(RECORDED[key]).encode())
    if event == "ping":
        assert parsed is None
    else:
        assert parsed is not None and "Codertocat/Hello-World" in parsed.repositories


def test_a_branch_push_names_its_branch_commit_and_repository():
    payload = RECORDED["api.github.com/push/4"]
    assert payload["base_ref"] is None and payload["repository"]["mirror_url"] is None
    push = parse_delivery("push", json.dumps(payload).encode())
    assert push is not None
    assert push.branch == "master" and push.after == payload["after"] and not push.deleted
    assert push.repositories == (
        "Codertocat/Hello-World",
        "https://github.com/Codertocat/Hello-World.git",
    )


def test_a_tag_push_and_a_deletion_follow_no_branch():
    tag = parse_delivery("push", json.dumps(RECORDED["api.github.com/push/0"]).encode())
    deleted = parse_delivery("push", json.dumps(RECORDED["api.github.com/push/1"]).encode())
    assert tag is not None and tag.branch is None
    assert deleted is not None and deleted.deleted and deleted.after == "0" * 40


def test_a_force_push_is_a_push():
    payload = RECORDED["api.github.com/push/4"] | {"forced": True, "created": False}
    push = parse_delivery("push", json.dumps(payload).encode())
    assert push is not None and push.forced and push.branch == "master"


def test_an_organisation_hooks_ping_has_no_repository_and_is_accepted():
    ping = RECORDED["api.github.com/ping/3"]
    assert "repository" not in ping
    assert parse_delivery("ping", json.dumps(ping).encode()) is None


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"repository": None}, "repository"),
        ({"after": "not-a-sha"}, "after"),
        ({"ref": None}, "ref"),
    ],
)
def test_a_push_without_what_is_needed_is_one_line_naming_it(change, named):
    payload = RECORDED["api.github.com/push/4"] | change
    with pytest.raises(BadDelivery) as caught:
        parse_delivery("push", json.dumps(payload).encode())
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_a_push_whose_repository_lacks_its_name_is_refused():
    payload = RECORDED["api.github.com/push/4"]
    del payload["repository"]["full_name"]
    with pytest.raises(BadDelivery, match="repository/full_name"):
        parse_delivery("push", json.dumps(payload).encode())
