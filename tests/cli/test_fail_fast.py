"""Permanent failures end `open` within seconds with one line naming the problem.

Repository not found, branch not found, app not in the commit, authentication refused: the
reloader reports each once and exits; the command fails with that line instead of printing
the same clone error until its timeout. A transient failure (an unreachable server) keeps
retrying until the timeout.
"""

from __future__ import annotations

import time

import pytest

from tests.cli.test_local_lifecycle import cli
from tests.fixtures.githttp import GitHttpServer


def _open(state, repo: str, *extra: str):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = cli("open", "--repo", repo, "--branch", "main", "--pr", "1", *extra,
                 state_dir=state, check=False)  # fmt: skip
    return result, time.monotonic() - started


def _one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.count("retrying") == 0, "no retries of a permanent failure"
    return errors[0]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no-repository", "repository not found"),
        ("no-branch", "branch 'no-such-branch' not found"),
        ("no-app", "app 'missing_app.py' is not in commit"),
    ],
)
def test_permanent_failures_end_open_within_seconds(tmp_path, remote, case, expected):
    extra: tuple[str, ...] = ()
    repo = remote.url
    if case == "no-repository":
        repo = (tmp_path / "nowhere.git").as_uri()
    elif case == "no-branch":
        extra = ("--branch", "no-such-branch")
    else:
        extra = ("--app", "missing_app.py")
    result, took = _open(tmp_path / "state", repo, *extra)

    assert result.returncode == 1
    assert expected in _one_error_line(result)
    assert took < 30


def test_refused_credentials_end_open_within_seconds(tmp_path, remote, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "a-wrong-token")
    with GitHttpServer(remote.root, "the-right-token") as server:
        result, took = _open(tmp_path / "state", server.url("remote.git"))
    assert result.returncode == 1
    line = _one_error_line(result)
    assert "authentication refused" in line and "a-wrong-token" not in result.stderr
    assert took < 30


def test_an_unreachable_server_is_retried_until_the_timeout(tmp_path):
    result, took = _open(
        tmp_path / "state", "http://127.0.0.1:9/nobody.git", "--wait-timeout", "8s"
    )
    assert result.returncode == 1
    assert "not ready after 8 s" in result.stderr
    assert took >= 8
