"""The local backend under concurrent use and damaged state, and its secrets.

Covers: two concurrent opens of one environment leave one reloader; a damaged record breaks
neither `list` nor the other environments, and never signals a process it cannot prove is
ours (a record with pid 0 once signalled the command's own process group); the git token
stays out of the app's environment and secret files are the owner's only; a missing key file
is one line.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from streamlit_preview.naming import environment_name
from tests.cli.test_local_lifecycle import cli, opened
from tests.fixtures.processes import ROOT


def _reloader_pids(state: Path) -> list[int]:
    """Reloader processes whose working directory is this state folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (
                    os.readlink(entry / "cwd") == str(state)
                    and b"streamlit_preview.reloader" in (entry / "cmdline").read_bytes()
                ):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_two_concurrent_opens_leave_one_reloader(tmp_path, remote):
    state = tmp_path / "state"
    command = [sys.executable, "-m", "streamlit_preview", "open", "--repo", remote.url, "--branch", "main",
               "--pr", "1", "--state-dir", str(state)]  # fmt: skip
    both = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in both:
        process.wait(180)
        assert process.returncode == 0, process.stderr.read()  # type: ignore[union-attr]
    try:
        assert len(_reloader_pids(state.absolute())) == 1
    finally:
        cli("close", "--repo", remote.url, "--pr", "1", state_dir=state)
    assert _reloader_pids(state.absolute()) == []


def test_a_damaged_record_breaks_nothing_else_and_signals_nobody(tmp_path, remote):
    state = tmp_path / "state"
    env = opened(remote, state, 1)
    records = state / "environments"
    (records / "broken-pr-9.json").write_text("{ not json")
    zero = environment_name("someone/else", 8)
    (records / f"{zero}.json").write_text(json.dumps({
        "environment": zero, "repository": "someone/else", "repo_url": "x", "branch": "main", "pr": 8,
        "app": "streamlit_app.py", "pid": 0, "started": None, "streamlit_port": 1, "control_port": 2,
        "workdir": str(tmp_path / "nothing"),
    }))  # fmt: skip

    listed = json.loads(cli("list", "--json", state_dir=state).stdout)
    by_name = {e["environment"]: e["status"] for e in listed}
    assert by_name == {env["environment"]: "running", "broken-pr-9": "damaged", zero: "damaged"}

    # A record with pid 0 once made close signal the command's own process group.
    closed = cli(
        "close",
        "--repo",
        "x",
        "--repository",
        "someone/else",
        "--pr",
        "8",
        state_dir=state,
        check=False,
    )
    assert closed.returncode == 0, closed.stderr
    assert "no process is signalled" in closed.stderr
    assert not (records / f"{zero}.json").exists()
    assert (
        cli(
            "open", "--repo", remote.url, "--branch", "main", "--pr", "1", state_dir=state
        ).returncode
        == 0
    )
    cli("close", "--repo", remote.url, "--pr", "1", state_dir=state)


def test_the_git_token_stays_out_of_the_app_and_secret_files_are_private(tmp_path, remote):
    from tests.fixtures.githttp import GitHttpServer

    state = tmp_path / "state"
    token = "ghs_local_backend_token"
    env = os.environ | {"GITHUB_TOKEN": token}
    with GitHttpServer(remote.root, token) as server:
        result = subprocess.run(
            [sys.executable, "-m", "streamlit_preview", "open", "--repo", server.url("remote.git"), "--branch",
             "main", "--pr", "2", "--json", "--state-dir", str(state)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        name = json.loads(result.stdout)["environment"]
        try:
            status = json.loads(cli("list", "--json", state_dir=state).stdout)[0]
            assert status["status"] == "running"
            for pid in _reloader_pids(state.absolute()):
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                for child in [pid, *map(int, children)]:
                    assert token.encode() not in Path(f"/proc/{child}/environ").read_bytes()
            for path in state.rglob("*"):
                if path.is_file() and token.encode() in path.read_bytes():
                    assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        finally:
            subprocess.run([sys.executable, "-m", "streamlit_preview", "close", "--repo", server.url("remote.git"),
                            "--pr", "2", "--state-dir", str(state)], cwd=ROOT, capture_output=True, timeout=60)  # fmt: skip
    assert name


def test_a_missing_key_file_is_one_line(tmp_path, remote):
    state = tmp_path / "state"
    env = opened(remote, state, 1)
    (state / "environments" / f"{env['environment']}.key").unlink()
    try:
        result = cli("sync", "--repo", remote.url, "--pr", "1", state_dir=state, check=False)
        assert result.returncode == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "key file" in errors[0], result.stderr
        assert "Traceback" not in result.stderr
    finally:
        cli("close", "--repo", remote.url, "--pr", "1", state_dir=state)
