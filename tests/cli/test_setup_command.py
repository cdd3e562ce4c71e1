"""`setup` and `setup-watch`: a command that prepares data before Streamlit starts."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_local_lifecycle import cli

APP = (
    "import pathlib, streamlit as st\nst.title(pathlib.Path('prepared.txt').read_text().strip())\n"
)


@pytest.mark.browser
def test_setup_runs_before_streamlit_and_again_when_a_watched_file_changes(tmp_path, remote, page):
    remote.commit({"streamlit_app.py": APP, "data/version.txt": "first data\n",
                   "fetch.sh": "echo fetching; cp data/version.txt prepared.txt\n"})  # fmt: skip
    state = tmp_path / "state"
    result = cli("open", "--repo", remote.url, "--branch", "main", "--pr", "4", "--json",
                 "--setup", "sh fetch.sh", "--setup-watch", "data/*", state_dir=state)  # fmt: skip
    env = json.loads(result.stdout)
    try:
        page.goto(env["url"])
        page.get_by_text("first data").wait_for(timeout=30_000)
        new = remote.commit({"data/version.txt": "second data\n"})
        synced = cli("sync", "--repo", remote.url, "--pr", "4", "--sha", new, state_dir=state)
        assert synced.returncode == 0
        page.get_by_text("second data").wait_for(timeout=30_000)
        unwatched = remote.commit({"notes.md": "no setup for this\n"})
        cli("sync", "--repo", remote.url, "--pr", "4", "--sha", unwatched, state_dir=state)
    finally:
        cli("close", "--repo", remote.url, "--pr", "4", state_dir=state)


def test_a_failing_setup_is_reported_and_the_preview_still_runs(tmp_path, remote):
    state = tmp_path / "state"
    result = cli("open", "--repo", remote.url, "--branch", "main", "--pr", "4",
                 "--setup", "echo downloading; echo 'no such bucket' >&2; exit 3", state_dir=state, check=False)  # fmt: skip
    try:
        assert result.returncode == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert (
            len(errors) == 1
            and "setup exited with 3" in errors[0]
            and "no such bucket" in errors[0]
        )
        listed = json.loads(cli("list", "--json", state_dir=state).stdout)
        assert listed[0]["status"] == "running", "Streamlit starts anyway"
    finally:
        cli("close", "--repo", remote.url, "--pr", "4", state_dir=state)
