"""A private repository's token reaches git and the server, and nowhere else."""

from __future__ import annotations

import base64
from pathlib import Path

import psutil
import pytest

from streamlit_preview.signing import sync_request
from tests.fixtures.githttp import GitHttpServer

TOKEN = "ghs_SuperSecretTokenValue1234567890"


@pytest.fixture
def private_server(remote):  # type: ignore[no-untyped-def]
    with GitHttpServer(remote.root, TOKEN) as server:
        yield server


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_token_clones_and_syncs_but_never_leaks(tmp_path, remote, private_server, start_reloader):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    reloader = start_reloader(
        private_server.url("remote.git"),
        extra_env={"PREVIEW_GIT_TOKEN_FILE": str(token_file)},
    )
    reloader.wait_ready()
    new = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('private')\n"})
    assert reloader.sync(new).json()["commit"] == new
    assert private_server.authorized_requests >= 2

    status = reloader.http.get("/status").text
    streamlit_pid = reloader.status()["streamlit"]["pid"]
    places = {
        "status": status,
        "log": reloader.log(),
        "reloader argv": Path(f"/proc/{reloader.process.pid}/cmdline").read_bytes().decode(),
        "streamlit argv": Path(f"/proc/{streamlit_pid}/cmdline").read_bytes().decode(),
        "streamlit environment": Path(f"/proc/{streamlit_pid}/environ").read_bytes().decode(),
    }
    for path in _files_under(reloader.workdir / ".git"):
        places[str(path)] = path.read_bytes().decode(errors="replace")
    # Every child of the reloader that outlives the sync (GitPython's cat-file, Streamlit):
    # the app runs as the same user and could read their environment in /proc.
    encoded = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    children = psutil.Process(reloader.process.pid).children(recursive=True)
    assert any("cat-file" in " ".join(c.cmdline()) for c in children)
    for child in children:
        environ = Path(f"/proc/{child.pid}/environ").read_bytes().decode(errors="replace")
        places[f"environment of {' '.join(child.cmdline())[:40]}"] = environ.replace(encoded, TOKEN)
    leaked = [where for where, text in places.items() if TOKEN in text]
    assert leaked == []


def test_wrong_token_reports_an_error_without_the_token(
    tmp_path, remote, private_server, start_reloader
):
    reloader = start_reloader(
        private_server.url("remote.git"), extra_env={"PREVIEW_GIT_TOKEN": "wrong-" + TOKEN}
    )
    # A refused first clone is permanent: the reloader says so once and exits.
    assert reloader.process.wait(30) != 0
    log = reloader.log()
    assert "authentication refused" in log and log.count("authentication refused") <= 2
    assert TOKEN not in log


def test_a_sync_brings_the_current_token_when_the_old_one_expired(
    tmp_path, remote, private_server, start_reloader
):
    """A workflow's token dies with its job: each signed sync carries the current one."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    reloader = start_reloader(
        private_server.url("remote.git"), extra_env={"PREVIEW_GIT_TOKEN_FILE": str(token_file)}
    )
    reloader.wait_ready()
    private_server.token = "ghs_TheNextJobsToken0987654321"
    new = remote.commit({"streamlit_app.py": "import streamlit as st\nst.write('rotated')\n"})

    stale = reloader.sync(new)
    assert stale.status_code == 503 and TOKEN not in stale.text

    body, headers = sync_request(reloader.secret, new, git_token=private_server.token)
    fresh = reloader.http.post("/sync", content=body, headers=headers)
    assert fresh.status_code == 200 and fresh.json()["commit"] == new
    assert private_server.token not in reloader.log() + reloader.http.get("/status").text
