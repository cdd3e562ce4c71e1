"""`streamlit-preview hook`, a real receiver process over the local backend.

Covers: a commit pushed to a real git repository, then a delivery signed as GitHub signs it,
then the open browser tab shows the commit (no workflow involved); the answer lists what was
synced; a redelivery is not applied twice; the workflow's later sync of the same commit is a
no-op (no restart, no reload); every bad input: no or wrong signature (401), another event
(204), ping (200), a malformed body (400, one line), an oversized body (413), another path
(404), a deleted branch and another branch (nothing synced), a pinned preview (never moved), a
private repository without a lasting token (left to the workflow, and the answer says so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.test_local_lifecycle import cli, opened
from tests.fixtures.processes import ROOT, die_with_parent, free_port, wait_for
from tests.fixtures.webhooks import delivery, ping_payload, push_payload

SECRET = b"it-is-the-github-webhook-secret"


class Hook:
    def __init__(self, url: str, state: Path) -> None:
        self.url, self.state = url, state

    def post(self, event: str, payload: dict | bytes, *, secret: bytes = SECRET,
             delivery_id: str | None = None) -> httpx.Response:  # fmt: skip
        body, headers = delivery(secret, event, payload, delivery_id=delivery_id)
        return httpx.post(self.url, content=body, headers=headers, timeout=60)


@pytest.fixture
def hook(tmp_path) -> Iterator[Hook]:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_bytes(SECRET + b"\n")
    port = free_port()
    log = (tmp_path / "hook.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit_preview", "hook", "--listen", f"127.0.0.1:{port}",
         "--secret-file", str(secret_file), "--backend", "local", "--state-dir", str(state)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: _healthy(url), timeout=30)
    yield Hook(url, state)
    process.terminate()
    process.wait(timeout=10)
    for record in (state / "environments").glob("*.json"):  # local previews outlive their opener
        data = json.loads(record.read_text())
        cli("close", "--repo", data["repo_url"], "--repository", data["repository"], "--pr", str(data["pr"]),
            state_dir=state)  # fmt: skip
    assert SECRET.decode() not in (tmp_path / "hook.log").read_text()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _push(remote, sha: str, **extra) -> dict:  # type: ignore[no-untyped-def]
    return push_payload(
        full_name="acme/shop", clone_url=remote.url, branch="main", after=sha, **extra
    )


@pytest.mark.browser
def test_a_push_reaches_the_open_tab_through_the_webhook(hook, remote, page):
    env = opened(remote, hook.state, 1, "--repository", "acme/shop")
    page.goto(env["url"])
    page.get_by_text("Hello version 1").wait_for(timeout=30_000)
    origin = page.evaluate("performance.timeOrigin")

    new = remote.commit(
        {"streamlit_app.py": 'import streamlit as st\nst.title("Pushed, then hooked")\n'}
    )
    answer = hook.post("push", _push(remote, new), delivery_id="delivery-1")

    assert answer.status_code == 202, answer.text
    (started,) = answer.json()
    assert started == {"environment": env["environment"], "status": "started", "commit": new}
    page.get_by_text("Pushed, then hooked").wait_for(timeout=10_000)
    assert page.evaluate("performance.timeOrigin") == origin

    again = hook.post("push", _push(remote, new), delivery_id="delivery-1")  # GitHub redelivers
    assert (
        again.status_code == 200
        and again.json() == []
        and "already applied" in again.headers["x-preview-note"]
    )

    # Both paths on: the workflow's sync of the same commit changes nothing.
    workflow = json.loads(cli("sync", "--repo", remote.url, "--repository", "acme/shop", "--pr", "1",
                              "--json", state_dir=hook.state).stdout)  # fmt: skip
    assert workflow["commit"] == new
    status = httpx.get(f"{_control(hook, env)}/status", timeout=5).json()
    assert status["streamlit"]["restarts"] == 0
    time.sleep(1)
    assert page.evaluate("performance.timeOrigin") == origin  # the tab was never reloaded


def _commit(hook: Hook, env: dict) -> str | None:
    try:
        return httpx.get(f"{_control(hook, env)}/status", timeout=5).json().get("commit")
    except httpx.HTTPError:
        return None


def _control(hook: Hook, env: dict) -> str:
    record = json.loads((hook.state / "environments" / f"{env['environment']}.json").read_text())
    return f"http://127.0.0.1:{record['control_port']}"


def test_bad_deliveries_change_nothing(hook, remote):
    env = opened(remote, hook.state, 2, "--repository", "acme/shop")
    before = env["commit"]
    new = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('not yet')\n"})
    payload = _push(remote, new)

    assert hook.post("push", payload, secret=b"wrong").status_code == 401
    body, headers = delivery(SECRET, "push", payload)
    del headers["X-Hub-Signature-256"]
    assert httpx.post(hook.url, content=body, headers=headers).status_code == 401
    assert hook.post("issues", {"action": "opened"}).status_code == 204
    assert hook.post("ping", ping_payload()).status_code == 200
    malformed = hook.post("push", b'{"ref": 1')
    assert malformed.status_code == 400 and "\n" not in malformed.json()["error"]
    wrong_shape = hook.post("push", {"ref": "refs/heads/main"})
    assert wrong_shape.status_code == 400 and "Traceback" not in wrong_shape.text
    huge = b'{"x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    assert hook.post("push", huge).status_code == 413
    body, headers = delivery(SECRET, "push", payload)
    assert httpx.post(hook.url + "sync", content=body, headers=headers).status_code == 404
    deleted = hook.post("push", _push(remote, "0" * 40, deleted=True))
    assert deleted.status_code == 200 and deleted.json() == []
    other = push_payload(full_name="acme/shop", clone_url=remote.url, branch="other", after=new)
    assert hook.post("push", other).json() == []
    elsewhere = push_payload(full_name="acme/shop-dashboard", clone_url="https://github.com/acme/shop-dashboard.git",
                             branch="main", after=new)  # fmt: skip
    assert hook.post("push", elsewhere).json() == []

    status = httpx.get(f"{_control(hook, env)}/status", timeout=5).json()
    assert status["commit"] == before  # none of these moved the preview


def test_pinned_and_private_previews_are_left_alone_and_the_answer_says_why(hook, remote):
    pinned_record_env = opened(remote, hook.state, 3, "--repository", "acme/shop")
    record_path = hook.state / "environments" / f"{pinned_record_env['environment']}.json"
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps(record | {"pinned": True}))
    private_env = opened(remote, hook.state, 4, "--repository", "acme/shop")
    record_path = hook.state / "environments" / f"{private_env['environment']}.json"
    record_path.write_text(json.dumps(json.loads(record_path.read_text()) | {"private": True}))

    new = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('moved?')\n"})
    answer = hook.post("push", _push(remote, new))

    assert answer.status_code == 200, answer.text
    assert [entry["status"] for entry in answer.json()] == ["skipped", "skipped"]
    reasons = {entry["environment"]: entry["reason"] for entry in answer.json()}
    assert "pinned" in reasons[pinned_record_env["environment"]]
    assert "workflow" in reasons[private_env["environment"]]


def test_the_receiver_refuses_bad_flags_with_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    for args, name in ((["--listen", "nowhere", "--secret-file", str(empty)], "--listen"),
                       (["--listen", "127.0.0.1:1", "--secret-file", str(empty)], "--secret-file"),
                       (["--listen", "127.0.0.1:1", "--secret-file", str(tmp_path / "missing")], "--secret-file")):  # fmt: skip
        result = subprocess.run([sys.executable, "-m", "streamlit_preview", "hook", *args],
                                capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
        assert result.returncode == 2 and result.stderr.startswith(f"error: {name}")
        assert len(result.stderr.strip().splitlines()) == 1
    wait_for(lambda: True, timeout=1)


def test_a_private_preview_syncs_with_a_github_app_token_the_receiver_mints(
    tmp_path, remote, github
):
    """The job's token died with its job; the receiver mints its own from a GitHub App's key
    (GitHub's API through Prism) and passes it with the sync, as the action passes the job's."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.fixtures.githttp import GitHttpServer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    github.fake.app_public_key = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip
    (tmp_path / "app.pem").write_bytes(pem)
    (tmp_path / "secret").write_bytes(SECRET)
    state = tmp_path / "state"
    with GitHttpServer(remote.root, "ghs_the_jobs_token") as server:
        repo = server.url("remote.git")
        opened = subprocess.run(
            [sys.executable, "-m", "streamlit_preview", "open", "--repo", repo, "--repository", "acme/private",
             "--branch", "main", "--pr", "5", "--check", "none", "--json", "--state-dir", str(state)],
            capture_output=True, text=True, timeout=120, cwd=ROOT, env=os.environ | {"GITHUB_TOKEN": "ghs_the_jobs_token"},
        )  # fmt: skip
        assert opened.returncode == 0, opened.stderr
        opened_env = json.loads(opened.stdout)
        server.token = "ghs_minted0for12345"  # the job's token is dead; the App's first one works
        port = free_port()
        receiver = subprocess.Popen(
            [sys.executable, "-m", "streamlit_preview", "hook", "--listen", f"127.0.0.1:{port}",
             "--secret-file", str(tmp_path / "secret"), "--state-dir", str(state),
             "--github-app-id", "12345", "--github-app-key-file", str(tmp_path / "app.pem"),
             "--github-app-installation-id", "42", "--github-api-url", github.url],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent,
        )  # fmt: skip
        try:
            hook = Hook(f"http://127.0.0.1:{port}/", state)
            wait_for(lambda: _healthy(hook.url), timeout=30)
            new = remote.commit(
                {"streamlit_app.py": "import streamlit as st\nst.write('private push')\n"}
            )
            payload = push_payload(
                full_name="acme/private", clone_url=repo, branch="main", after=new, private=True
            )
            answer = hook.post("push", payload)
            assert answer.status_code == 202, answer.text
            assert answer.json()[0]["status"] == "started" and answer.json()[0]["commit"] == new
            wait_for(lambda: _commit(hook, opened_env) == new, timeout=60)
            assert github.fake.minted[0] == "ghs_minted0for12345"
            # The pod runs the pull request's code: its token reads that one repository only.
            assert github.fake.minted_scopes[0] == {"repositories": ["private"],
                                                    "permissions": {"contents": "read"}}  # fmt: skip
            # The receiver reported its sync on the pull request, as the workflow would.
            wait_for(lambda: any(new[:12] in body and "ready" in body
                                 for body, _ in github.fake.comment_history), timeout=60)  # fmt: skip
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)
            cli(
                "close",
                "--repo",
                repo,
                "--repository",
                "acme/private",
                "--pr",
                "5",
                state_dir=state,
            )
