"""`hook.py` in process (Starlette's TestClient), over a fake backend: what the receiver answers,
how soon, and what it syncs in the background. The end-to-end receiver, with real reloaders and
a browser, is tests/cli/test_hook.py.

Covers: every recorded GitHub delivery is accepted (none 400) and a push with no previews gets
200 and an empty list; the answer comes at once while a 20 s sync runs behind it; a newer push
supersedes one that waits, only the newest ends live and no two syncs of a preview overlap;
skipped previews say why; without an App credential the answer says the workflow reports;
with one, the pull request's comment and Deployment follow the receiver's sync."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from streamlit_preview.environment import Environment, Status
from streamlit_preview.hook import Outcome, Receiver, create_app, plan_push
from streamlit_preview.webhooks import Push
from tests.fixtures.webhooks import delivery, push_payload, recorded

SECRET = b"the-webhook-secret"
SHA = [f"{n:x}" * 40 for n in range(1, 6)]


def preview(pr: int = 1, **extra: object) -> Environment:
    fields: dict = {"environment": f"acme-shop-pr-{pr}", "url": f"http://127.0.0.1:9/{pr}",
                    "commit": "0" * 40, "status": Status.RUNNING, "branch": "main", "pr": pr,
                    "repository": "acme/shop"} | extra  # fmt: skip
    return Environment(**fields)


@dataclass
class FakeBackend:
    """Previews in memory; `sync_to` can be held until a test lets it go."""

    environments: list[Environment] = field(default_factory=list)
    synced: list[tuple[str, str]] = field(default_factory=list)  # (environment, sha), in order
    hold: threading.Event = field(default_factory=threading.Event)
    running: int = 0
    most_at_once: int = 0
    sync_seconds: float = 0.0
    name: str = "fake"
    stored: list[tuple[str, str]] = field(default_factory=list)  # store_git_token calls
    activities: dict = field(default_factory=dict)  # environment -> its reloader's `activity`
    asleep: list[str] = field(default_factory=list)
    woken: list[tuple[str | None, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.hold.set()
        self._lock = threading.Lock()

    def list(self) -> list[Environment]:
        return list(self.environments)

    def sync_to(self, environment: Environment, *, sha: str, git_token: str | None = None) -> dict:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.hold.wait(30)
            time.sleep(self.sync_seconds)
            self.synced.append((environment.environment, sha))
            return {"commit": sha, "previous": "0" * 40, "changed": True, "restarted": False}
        finally:
            with self._lock:
                self.running -= 1

    def settle(self, environment: Environment, *, commit: str, timeout: float) -> Environment:
        return replace(environment, commit=commit, page_title="Shop")

    def store_git_token(self, environment: Environment, token: str) -> None:
        self.stored.append((environment.environment, token))

    def activity(self, environment: Environment) -> dict | None:
        return self.activities.get(environment.environment)

    def sleep(self, environment: Environment) -> None:
        self.asleep.append(environment.environment)

    def wake(self, environment: Environment) -> bool:
        self.woken.append((environment.namespace, environment.environment))
        return True


def _post(client: TestClient, payload: dict, event: str = "push"):  # type: ignore[no-untyped-def]
    body, headers = delivery(SECRET, event, payload)
    return client.post("/", content=body, headers=headers)


def _push(sha: str, branch: str = "main") -> dict:
    return push_payload(full_name="acme/shop", clone_url="https://github.com/acme/shop.git",
                        branch=branch, after=sha, before=SHA[0])  # fmt: skip


@pytest.mark.parametrize("key", sorted(recorded()))
def test_every_recorded_delivery_is_accepted_and_no_preview_matches(key):
    receiver = Receiver(SECRET, FakeBackend([preview()]))  # type: ignore[arg-type]
    event = key.split("/")[-2]
    answer = _post(TestClient(create_app(receiver)), recorded()[key], event)
    assert answer.status_code == 200, answer.text
    assert answer.json() == ({"pong": True} if event == "ping" else [])


def test_the_answer_comes_at_once_while_a_20_s_sync_runs_behind_it():
    backend = FakeBackend([preview()], sync_seconds=20)
    receiver = Receiver(SECRET, backend)  # type: ignore[arg-type]
    started = time.monotonic()
    answer = _post(TestClient(create_app(receiver)), _push(SHA[1]))
    took = time.monotonic() - started
    assert answer.status_code == 202
    assert answer.json() == [
        {"environment": "acme-shop-pr-1", "status": "started", "commit": SHA[1]}
    ]
    assert took < 5, took  # GitHub gives up after 10 s
    assert "workflow" in answer.headers["x-preview-note"]  # no App credential: who reports
    backend.sync_seconds = 0


def test_a_newer_push_supersedes_one_that_waits_and_syncs_never_overlap():
    backend = FakeBackend([preview()])
    backend.hold.clear()  # the first sync hangs until released
    receiver = Receiver(SECRET, backend)  # type: ignore[arg-type]
    client = TestClient(create_app(receiver))
    for sha in SHA[1:4]:
        assert _post(client, _push(sha)).status_code == 202
    backend.hold.set()
    assert receiver.syncs.wait_idle(10)
    assert backend.synced == [("acme-shop-pr-1", SHA[1]), ("acme-shop-pr-1", SHA[3])]
    assert backend.most_at_once == 1


def test_previews_of_one_push_sync_side_by_side():
    backend = FakeBackend([preview(1), preview(2)])
    backend.hold.clear()
    receiver = Receiver(SECRET, backend)  # type: ignore[arg-type]
    answer = _post(TestClient(create_app(receiver)), _push(SHA[1]))
    assert {e["environment"] for e in answer.json()} == {"acme-shop-pr-1", "acme-shop-pr-2"}
    deadline = time.monotonic() + 5
    while backend.running < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert backend.running == 2
    backend.hold.set()
    assert receiver.syncs.wait_idle(10)


@pytest.mark.parametrize(
    ("env", "have_token", "outcome", "reason"),
    [
        (preview(), False, Outcome.STARTED, None),
        (preview(pinned=True), True, Outcome.SKIPPED, "pinned"),
        (preview(private=True), False, Outcome.SKIPPED, "workflow"),
        (preview(private=True), True, Outcome.STARTED, None),
        (preview(status=Status.SLEEPING), True, Outcome.SLEEPING, "wakes on the next visit"),
    ],
)
def test_plan_push_says_what_moves_and_why_the_rest_does_not(env, have_token, outcome, reason):
    push = Push(("acme/shop",), "main", SHA[1], deleted=False, private=False)
    (step,) = plan_push(push, [env, preview(9, branch="other")], have_token=have_token).steps
    assert step.outcome is outcome
    assert (reason or "") in (step.reason or "")


def test_plan_push_of_a_deletion_or_a_tag_moves_nothing():
    for branch, deleted in (("main", True), (None, False)):
        push = Push(("acme/shop",), branch, SHA[1], deleted=deleted, private=False)
        plan = plan_push(push, [preview()], have_token=True)
        assert plan.steps == () and plan.note


def _app_tokens(github):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from streamlit_preview.github import AppInstallationTokens

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    github.fake.app_public_key = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip
    return AppInstallationTokens(app_id="12345", private_key=pem, installation_id="42",
                                 api_url=github.url)  # fmt: skip


def test_private_previews_get_a_fresh_scoped_token_without_a_push(github):
    """A pod rescheduled hours after its last workflow run finds a live token: the receiver
    stores one per private preview, for that repository only, with `contents: read`."""
    backend = FakeBackend(
        [preview(1, private=True), preview(2), preview(3, private=True, pinned=True)]
    )
    receiver = Receiver(SECRET, backend, app_tokens=_app_tokens(github), api_url=github.url)  # type: ignore[arg-type]
    assert receiver.refresh_tokens() == 1
    assert backend.stored == [("acme-shop-pr-1", github.fake.minted[0])]
    assert github.fake.minted_scopes == [
        {"repositories": ["shop"], "permissions": {"contents": "read"}}
    ]
    without_app = Receiver(SECRET, backend)  # type: ignore[arg-type]
    assert without_app.refresh_tokens() == 0


def test_with_a_github_app_the_pull_request_shows_the_receivers_sync(github, tmp_path):
    """The comment and the Deployment follow the push as the workflow would leave them: a
    Deployment of the new commit marked success, the previous one inactive, the comment
    ready at the new commit."""
    tokens = _app_tokens(github)
    backend = FakeBackend([preview()])
    receiver = Receiver(SECRET, backend, app_tokens=tokens, api_url=github.url)  # type: ignore[arg-type]
    client = TestClient(create_app(receiver))
    for sha in SHA[1:3]:
        answer = _post(client, _push(sha))
        assert answer.status_code == 202 and "x-preview-note" not in answer.headers
        assert receiver.syncs.wait_idle(30)

    deployments = github.fake.deployment_list
    assert [d["sha"] for d in deployments] == SHA[1:3]
    assert {d["environment"] for d in deployments} == {"preview"}
    first, second = (github.fake.statuses[d["id"]] for d in deployments)
    assert first[-1] == "inactive" and second == ["in_progress", "success"]
    (comment,) = github.fake.comments_by_pr[1]
    assert "ready" in comment["body"] and SHA[2][:12] in comment["body"]
    assert json.dumps(comment).count("ghs_") == 0  # no token in what the PR shows


def test_the_collaborator_check_admits_collaborators_only(github, tmp_path):
    """Traefik's ForwardAuth for `access: collaborators`. GitHub's permission endpoint says
    `read` for every user on a public repository (the fake's default): the receiver asks the
    collaborator check instead, so a passer-by is refused."""
    token = tmp_path / "token"
    token.write_text("ghs_lasting\n")
    github.fake.collaborators = {"member"}
    receiver = Receiver(SECRET, FakeBackend(), git_token_file=token, api_url=github.url)  # type: ignore[arg-type]
    client = TestClient(create_app(receiver))
    path = "/access/collaborators/acme/shop"
    assert client.get(path, headers={"X-Auth-Request-User": "member"}).status_code == 200
    assert client.get(path, headers={"X-Auth-Request-User": "passer-by"}).status_code == 403
    assert client.get(path).status_code == 401
    asked = [p for _, p in github.fake.requests]
    assert "/repos/acme/shop/collaborators/passer-by" in asked
    assert not any(p.endswith("/permission") for p in asked)


def test_only_previews_nobody_looked_at_for_their_sleep_after_go_to_sleep():
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    backend = FakeBackend([
        preview(1, sleep_after=1800), preview(2, sleep_after=1800), preview(3, sleep_after=1800),
        preview(4, sleep_after=None), preview(5, sleep_after=1800, status=Status.SLEEPING),
        preview(6, sleep_after=1800),
    ])  # fmt: skip
    backend.activities = {
        "acme-shop-pr-1": {"viewers": 0, "active_at": "2026-12-07T11:00:00Z"},  # idle an hour
        "acme-shop-pr-2": {"viewers": 1, "active_at": "2026-12-07T11:00:00Z"},  # a tab is open
        "acme-shop-pr-3": {"viewers": 0, "active_at": "2026-12-07T11:50:00Z"},  # 10 min only
        "acme-shop-pr-4": {"viewers": 0, "active_at": "2026-12-07T00:00:00Z"},  # never sleeps
        "acme-shop-pr-6": {"viewers": None, "active_at": "2026-12-07T00:00:00Z"},  # unknown
    }
    receiver = Receiver(SECRET, backend)  # type: ignore[arg-type]
    assert receiver.sleep_idle(now=now) == ["acme-shop-pr-1"]
    assert backend.asleep == ["acme-shop-pr-1"]


def test_a_woken_preview_is_not_put_back_to_sleep_while_its_visitor_waits():
    backend = FakeBackend([preview(1, sleep_after=4)])
    backend.activities = {"acme-shop-pr-1": {"viewers": 0, "active_at": "2026-12-07T11:00:00Z"}}
    receiver = Receiver(SECRET, backend)  # type: ignore[arg-type]
    TestClient(create_app(receiver)).get("/wake/preview-acme-shop/acme-shop-pr-1")
    visited = datetime.now(UTC)
    assert receiver.sleep_idle(now=visited + timedelta(seconds=30)) == []
    assert receiver.sleep_idle(now=visited + timedelta(seconds=61)) == ["acme-shop-pr-1"]


def test_a_visit_to_a_sleeping_preview_wakes_it_and_gets_a_page_that_reloads_itself():
    backend = FakeBackend()
    client = TestClient(create_app(Receiver(SECRET, backend)))  # type: ignore[arg-type]
    answer = client.get("/wake/preview-acme-app/acme-app-pr-7")
    assert answer.status_code == 503  # Traefik keeps the status; the body is the page
    assert backend.woken == [("preview-acme-app", "acme-app-pr-7")]
    assert "location.reload()" in answer.text and "acme-app-pr-7" in answer.text
    assert 'http-equiv="refresh"' in answer.text  # without JavaScript too
    assert answer.headers["cache-control"] == "no-store"
