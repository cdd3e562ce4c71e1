"""The command line over the local backend, as a user runs it, with a real browser.

Covers: open → page follows a commit after sync without navigation → close frees the port;
double open; a killed reloader shows as dead and comes back on open; two environments at once;
`list --json`; closing a missing environment.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from streamlit_preview.naming import environment_name
from tests.fixtures.processes import ROOT, wait_for


def cli(*args: str, state_dir, check: bool = True) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "streamlit_preview", *args, "--state-dir", str(state_dir)],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )  # fmt: skip
    if check:
        assert result.returncode == 0, result.stderr
    return result


def opened(remote, state_dir, pr: int = 1, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("open", "--repo", remote.url, "--branch", "main", "--pr", str(pr), "--json",
                 *extra, state_dir=state_dir)  # fmt: skip
    return json.loads(result.stdout)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.browser
def test_open_sync_close_with_an_open_tab(tmp_path, remote, page):
    state = tmp_path / "state"
    env = opened(remote, state)
    assert env["environment"] == environment_name(remote.url, 1) and env["commit"] == remote.head()
    page.goto(env["url"])
    page.get_by_text("Hello version 1").wait_for(timeout=30_000)
    origin = page.evaluate("performance.timeOrigin")

    new = remote.commit(
        {"streamlit_app.py": 'import streamlit as st\nst.title("Hello from the PR")\n'}
    )
    synced = json.loads(
        cli("sync", "--repo", remote.url, "--pr", "1", "--json", state_dir=state).stdout
    )

    assert synced["commit"] == new
    page.get_by_text("Hello from the PR").wait_for(timeout=10_000)
    assert page.evaluate("performance.timeOrigin") == origin

    port = int(env["url"].rsplit(":", 1)[1].strip("/"))
    closed = json.loads(
        cli("close", "--repo", remote.url, "--pr", "1", "--json", state_dir=state).stdout
    )
    assert closed["status"] == "closed"
    wait_for(lambda: port_is_free(port), timeout=15, message="port still taken after close")
    assert json.loads(cli("list", "--json", state_dir=state).stdout) == []
    assert not (state / "work").exists(), "close leaves no empty folder behind"


def test_open_twice_syncs_the_running_environment(tmp_path, remote):
    state = tmp_path / "state"
    first = opened(remote, state)
    new = remote.commit({"a.txt": "2"})
    second = opened(remote, state)
    assert second["url"] == first["url"] and second["commit"] == new
    assert len(json.loads(cli("list", "--json", state_dir=state).stdout)) == 1
    cli("close", "--repo", remote.url, "--pr", "1", state_dir=state)


def test_killed_reloader_is_listed_dead_and_open_brings_it_back(tmp_path, remote):
    state = tmp_path / "state"
    opened(remote, state)
    record = json.loads(
        (state / "environments" / f"{environment_name(remote.url, 1)}.json").read_text()
    )
    os.kill(record["pid"], signal.SIGKILL)

    listed = wait_for(
        lambda: (
            (rows := json.loads(cli("list", "--json", state_dir=state).stdout))
            and rows[0]["status"] == "dead"
            and rows
        ),
        timeout=15,
    )
    assert listed[0]["environment"] == environment_name(remote.url, 1)

    back = opened(remote, state)
    assert back["commit"] == remote.head()
    rows = json.loads(cli("list", "--json", state_dir=state).stdout)
    assert [r["status"] for r in rows] == ["running"]
    cli("close", "--repo", remote.url, "--pr", "1", state_dir=state)


def test_two_pull_requests_side_by_side(tmp_path, remote):
    state = tmp_path / "state"
    one, two = opened(remote, state, 1), opened(remote, state, 2)
    assert one["url"] != two["url"]
    rows = json.loads(cli("list", "--json", state_dir=state).stdout)
    assert sorted(r["environment"] for r in rows) == [
        environment_name(remote.url, 1),
        environment_name(remote.url, 2),
    ]
    assert {r["status"] for r in rows} == {"running"}
    cli("close", "--repo", remote.url, "--pr", "1", state_dir=state)
    rows = json.loads(cli("list", "--json", state_dir=state).stdout)
    assert [r["environment"] for r in rows] == [environment_name(remote.url, 2)]
    cli("close", "--repo", remote.url, "--pr", "2", state_dir=state)


def test_close_of_a_missing_environment_succeeds_and_says_so(tmp_path, remote):
    result = cli("close", "--repo", remote.url, "--pr", "9", state_dir=tmp_path)
    assert "was not there" in result.stderr


def test_open_of_a_missing_branch_fails_cleanly_and_leaves_nothing(tmp_path, remote):
    state = tmp_path / "state"
    result = cli("open", "--repo", remote.url, "--branch", "nope", "--pr", "3",
                 "--wait-timeout", "8", state_dir=state, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "error:" in result.stderr and "nope" in result.stderr
    assert json.loads(cli("list", "--json", state_dir=state).stdout) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["open", "--repo", "x", "--pr", "1"], "--branch"),
        (["open", "--repo", "x", "--branch", "main", "--pr", "one"], "--pr"),
        (["open", "--repo", "x", "--branch", "a..b", "--pr", "1"], "--branch"),
        (["open", "--repo", "x", "--branch", "main", "--pr", "1", "--sha", "abc"], "--sha"),
        (["open", "--repo", "x", "--branch", "main", "--pr", "1", "--gpu", "two"], "--gpu"),
        (["open", "--repo", "x", "--branch", "main", "--pr", "1", "--env", "NOEQUALS"], "--env"),
        (["open", "--repo", "x", "--branch", "main", "--pr", "1", "--cpu", "lots"], "--cpu"),
        (["open", "--repo", "x", "--branch", "main", "--pr", "1", "--ttl", "soon"], "--ttl"),
        (["open", "--repo", "x", "--branch", "main", "--pr", "1", "--router", "nginx"], "--router"),
        (
            ["open", "--repo", "x", "--branch", "main", "--pr", "1", "--secret-env", "/nope"],
            "--secret-env",
        ),
        (["open", "--repo", "x", "--branch", "main", "--pr", "1", "--backend", "ssh"], "--backend"),
        (
            ["open", "--backend", "kubernetes", "--repo", "x", "--branch", "main", "--pr", "1"],
            "--domain",
        ),
        (["sync", "--repo", "x", "--pr", "1", "--no-such-flag"], "streamlit-preview"),
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_the_flag(tmp_path, args, named):
    result = cli(*args, state_dir=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {named}"), result.stderr


def test_an_environment_of_another_repository_is_never_touched(tmp_path, remote):
    """Should two repositories ever share a name, neither may take over or close the other's."""
    state = tmp_path / "state"
    env = opened(remote, state)
    path = state / "environments" / f"{env['environment']}.json"
    record = json.loads(path.read_text())
    record["repository"] = "someone/else"
    path.write_text(json.dumps(record))

    for verb in (("open", "--branch", "main"), ("close",)):
        result = cli(
            verb[0], "--repo", remote.url, "--pr", "1", *verb[1:], state_dir=state, check=False
        )
        assert result.returncode == 1
        assert "belongs to repository someone/else" in result.stderr
    assert json.loads(cli("list", "--json", state_dir=state).stdout)[0]["status"] == "running"
    record["repository"] = remote.url
    path.write_text(json.dumps(record))
    cli("close", "--repo", remote.url, "--pr", "1", state_dir=state)
