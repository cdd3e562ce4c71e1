"""The real reloader process against a real bare repository: the `/sync` contract.

Covers: signed sync moves the checkout, bad signature, stale timestamp (replay), force-push,
an older sha, an unknown sha, a burst of 20 coalesced into few fetches, /status shape.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from streamlit_preview.signing import SIGNATURE_HEADER, sign
from tests.fixtures.gitrepo import git


def test_signed_sync_moves_checkout_to_new_commit(remote, reloader):
    first = remote.head()
    assert reloader.status()["commit"] == first
    new = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('two')\n"})

    response = reloader.sync(new)

    assert response.status_code == 200
    body = response.json()
    assert body["commit"] == new and body["previous"] == first and body["changed"] is True
    assert isinstance(body["duration_ms"], int) and isinstance(body["restarted"], bool)
    assert (reloader.workdir / "streamlit_app.py").read_text().endswith("st.write('two')\n")
    assert git("status", "--porcelain", cwd=reloader.workdir) == ""


def test_sync_without_sha_follows_branch_head_and_reports_unchanged(remote, reloader):
    response = reloader.sync()
    assert response.status_code == 200
    assert response.json()["changed"] is False
    assert response.json()["commit"] == remote.head()


def test_bad_or_missing_signature_is_401_and_changes_nothing(remote, reloader):
    before = reloader.status()
    new = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('x')\n"})

    wrong_key = reloader.sync(new, secret=b"not-the-key")
    body = json.dumps({"timestamp": int(time.time()), "sha": new}).encode()
    unsigned = reloader.http.post("/sync", content=body)
    tampered = reloader.http.post(
        "/sync",
        content=body.replace(b"}", b" }"),
        headers={SIGNATURE_HEADER: sign(reloader.secret, body)},
    )

    assert [r.status_code for r in (wrong_key, unsigned, tampered)] == [401, 401, 401]
    after = reloader.status()
    assert after["commit"] == before["commit"] and after["fetches"] == before["fetches"]


def test_stale_timestamp_replay_is_401(remote, reloader):
    new = remote.commit({"data.txt": "1"})
    for skew in (-310, 310):  # clear of the 300 s bound, however slow the machine
        body = json.dumps({"timestamp": int(time.time()) + skew, "sha": new}).encode()
        response = reloader.http.post(
            "/sync", content=body, headers={SIGNATURE_HEADER: sign(reloader.secret, body)}
        )
        assert response.status_code == 401
        assert "timestamp" in response.json()["error"]
    assert reloader.status()["commit"] != new


def test_malformed_body_and_sha_are_400(reloader):
    for payload in (
        b"not json",
        b"[1]",
        json.dumps({"timestamp": int(time.time()), "sha": "main"}).encode(),
    ):
        response = reloader.http.post(
            "/sync", content=payload, headers={SIGNATURE_HEADER: sign(reloader.secret, payload)}
        )
        assert response.status_code == 400, payload


def test_oversized_body_is_rejected(reloader):
    payload = b"{" + b" " * 20000 + b"}"
    response = reloader.http.post(
        "/sync", content=payload, headers={SIGNATURE_HEADER: sign(reloader.secret, payload)}
    )
    assert response.status_code == 413


def test_force_push_is_followed(remote, reloader):
    base = remote.head()
    doomed = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('doomed')\n"})
    assert reloader.sync(doomed).json()["commit"] == doomed
    remote.reset(base)
    rewritten = remote.commit(
        {"streamlit_app.py": "import streamlit as st\nst.write('rewritten')\n"}, push=False
    )
    remote.push(force=True)

    response = reloader.sync(rewritten)

    assert response.status_code == 200 and response.json()["commit"] == rewritten
    assert "rewritten" in (reloader.workdir / "streamlit_app.py").read_text()


def test_older_sha_never_moves_checkout_backwards(remote, reloader):
    older = remote.commit({"a.txt": "1"})
    newest = remote.commit({"a.txt": "2"})
    assert reloader.sync(newest).json()["commit"] == newest

    response = reloader.sync(older)

    assert response.status_code == 200
    assert response.json()["commit"] == newest
    assert (reloader.workdir / "a.txt").read_text() == "2"


def test_unknown_sha_is_409(remote, reloader):
    response = reloader.sync("0123456789abcdef0123456789abcdef01234567")
    assert response.status_code == 409
    assert "0123456789abcdef0123456789abcdef01234567" in response.json()["error"]


def test_burst_of_20_is_coalesced_and_every_answer_is_fresh(remote, reloader):
    fetches_before = reloader.status()["fetches"]
    new = remote.commit({"a.txt": "burst"})

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: reloader.sync(new), range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    assert {r.json()["commit"] for r in responses} == {new}
    assert reloader.status()["fetches"] - fetches_before <= 3


def test_status_has_contract_fields_without_credentials(remote, reloader):
    status = reloader.status()
    for key in ("commit", "branch", "app", "repo", "synced_at", "fetches", "last_error"):
        assert key in status
    assert status["branch"] == "main" and status["app"] == "streamlit_app.py"
    assert set(status["streamlit"]) >= {"state", "pid", "restarts", "port"}
    assert status["streamlit"]["state"] == "running"
    assert reloader.http.get("/healthz").status_code == 200
