"""`name`: several previews of one pull request open and close independently."""

from __future__ import annotations

import json

from tests.cli.test_local_lifecycle import cli


def test_two_named_previews_of_one_pull_request(tmp_path, remote):
    remote.commit({"other_app.py": "import streamlit as st\nst.title('the other app')\n"})
    state = tmp_path / "state"

    def open_named(name: str, app: str) -> dict:
        result = cli("open", "--repo", remote.url, "--branch", "main", "--pr", "5", "--name", name,
                     "--app", app, "--json", state_dir=state)  # fmt: skip
        return json.loads(result.stdout)

    first = open_named("main", "streamlit_app.py")
    second = open_named("other", "other_app.py")
    assert first["environment"] != second["environment"] and first["url"] != second["url"]
    assert "-main-" in first["environment"] and "-other-" in second["environment"]

    cli("close", "--repo", remote.url, "--pr", "5", "--name", "main", state_dir=state)
    listed = {
        e["environment"]: e["status"]
        for e in json.loads(cli("list", "--json", state_dir=state).stdout)
    }
    assert listed == {second["environment"]: "running"}

    third = open_named("third", "streamlit_app.py")
    closed = cli("close", "--repo", remote.url, "--pr", "5", state_dir=state)
    assert second["environment"] in closed.stderr and third["environment"] in closed.stderr
    assert json.loads(cli("list", "--json", state_dir=state).stdout) == []
