"""`reloader/control.py` in process (Starlette's TestClient), over a fake reloader: how each
endpoint maps the reloader to HTTP. The real reloader behind the same endpoints is tested in
tests/reloader/test_sync_endpoint.py.

Covers: a signed /sync reaches the reloader once and answers its outcome; a missing or wrong
signature, a stale timestamp, a bad sha or token, a body too large: refused before the reloader
is asked; an unknown commit is 409, a sync that cannot run 503 with its reason;
/status without and with its signed detail; /healthz and /readyz follow the supervisor."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from streamlit_preview.errors import SyncError, UnknownCommitError
from streamlit_preview.reloader.control import Refusal, SyncRequest, build_app, check_sync_request
from streamlit_preview.reloader.service import SyncOutcome
from streamlit_preview.signing import SIGNATURE_HEADER, sign, status_request_headers, sync_request

SECRET = b"control-key"
SHA = "b" * 40


@dataclass
class FakeReloader:
    settings: SimpleNamespace = field(
        default_factory=lambda: SimpleNamespace(webhook_secret=SECRET)
    )
    supervisor: SimpleNamespace = field(
        default_factory=lambda: SimpleNamespace(watcher_died=False, unhealthy=False)
    )
    asked: list[tuple[str | None, str | None]] = field(default_factory=list)
    fail: Exception | None = None
    is_ready: bool = True
    closed: bool = False

    async def sync(self, sha, *, git_token=None):  # type: ignore[no-untyped-def]
        self.asked.append((sha, git_token))
        if self.fail:
            raise self.fail
        return SyncOutcome(SHA, "a" * 40, True, False, frozenset()), 12.3

    def status(self, *, detail: bool = False) -> dict:
        return {"commit": SHA, "detail": detail}

    async def ready(self) -> bool:
        return self.is_ready

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def reloader() -> FakeReloader:
    return FakeReloader()


@pytest.fixture
def client(reloader):  # type: ignore[no-untyped-def]
    with TestClient(build_app(reloader)) as client:  # type: ignore[arg-type]
        yield client
    assert reloader.closed  # the lifespan closes the reloader


def _post(client, body: bytes, headers: dict):  # type: ignore[no-untyped-def]
    return client.post("/sync", content=body, headers=headers)


def test_a_signed_sync_answers_the_outcome(client, reloader):
    answer = _post(client, *sync_request(SECRET, SHA, git_token="ghs_job"))
    assert answer.status_code == 200
    assert answer.json() == {"commit": SHA, "previous": "a" * 40, "changed": True,
                             "restarted": False, "duration_ms": 12, "phases_ms": {}}  # fmt: skip
    assert reloader.asked == [(SHA, "ghs_job")]


def _signed(payload: object) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {SIGNATURE_HEADER: sign(SECRET, body)}


@pytest.mark.parametrize(
    ("request_of", "status", "says"),
    [
        (lambda: sync_request(b"another-key", SHA), 401, "X-Preview-Signature-256"),
        (lambda: (sync_request(SECRET, SHA)[0], {}), 401, "X-Preview-Signature-256"),
        (lambda: _signed({"timestamp": int(time.time()) - 301}), 401, "timestamp"),
        (lambda: _signed({"timestamp": int(time.time()), "sha": "HEAD"}), 400, "sha"),
        (lambda: _signed({"timestamp": int(time.time()), "git_token": ""}), 400, "git_token"),
        (lambda: _signed([1, 2]), 400, "JSON object"),
        (lambda: (b"x" * 20_000, {}), 413, "larger"),
    ],
)
def test_bad_syncs_are_refused_before_the_reloader_is_asked(
    client, reloader, request_of, status, says
):
    answer = _post(client, *request_of())
    assert answer.status_code == status and says in answer.json()["error"]
    assert reloader.asked == []


def test_an_unknown_commit_is_409_and_a_sync_that_cannot_run_503(client, reloader):
    reloader.fail = UnknownCommitError(f"commit {SHA} was not found on branch 'main'")
    assert _post(client, *sync_request(SECRET, SHA)).status_code == 409
    reloader.fail = SyncError("the first clone has not finished yet")
    answer = _post(client, *sync_request(SECRET, SHA))
    assert answer.status_code == 503
    assert answer.json()["error"] == "the first clone has not finished yet"


def test_status_and_its_signed_detail(client):
    assert client.get("/status").json() == {"commit": SHA, "detail": False}
    assert client.get("/status", params={"detail": "1"}).status_code == 401
    signed = client.get("/status", params={"detail": "1"}, headers=status_request_headers(SECRET))
    assert signed.json() == {"commit": SHA, "detail": True}


def test_health_and_readiness_follow_the_supervisor(client, reloader):
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    reloader.is_ready = False
    assert client.get("/readyz").status_code == 503
    reloader.supervisor.unhealthy = True
    assert client.get("/healthz").status_code == 503
    reloader.supervisor.unhealthy, reloader.supervisor.watcher_died = False, True
    assert "died" in client.get("/healthz").text


def test_the_request_check_alone_returns_what_to_sync_or_why_not():
    now = int(time.time())
    body, headers = _signed({"timestamp": now, "sha": SHA, "git_token": "ghs_job"})
    assert check_sync_request(SECRET, body, headers[SIGNATURE_HEADER]) == SyncRequest(
        SHA, "ghs_job"
    )
    body, headers = _signed({"timestamp": now})
    assert check_sync_request(SECRET, body, headers[SIGNATURE_HEADER]) == SyncRequest(None, None)
    assert check_sync_request(SECRET, None, None) == Refusal(413, "body larger than 16384 bytes")
    refused = check_sync_request(SECRET, body, sign(b"another-key", body))
    assert isinstance(refused, Refusal) and refused.status == 401 and refused.logged
