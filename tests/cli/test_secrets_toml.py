"""`secrets-toml`: the app's `st.secrets` sees exactly the TOML given, and it leaks nowhere."""

from __future__ import annotations

import json
import stat

import pytest

from tests.cli.test_local_lifecycle import cli

SECRETS = '[db]\nuser = "preview-user"\npassword = "s3cret-pw-123"\n'
APP = 'import streamlit as st\nst.title(f"user is {st.secrets.db.user}")\n'


@pytest.mark.browser
def test_st_secrets_sees_the_toml_and_it_leaks_nowhere(tmp_path, remote, page):
    remote.commit({"streamlit_app.py": APP})
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(SECRETS)
    state = tmp_path / "state"
    result = cli("open", "--repo", remote.url, "--branch", "main", "--pr", "3", "--json",
                 "--secrets-toml-file", str(secrets), state_dir=state)  # fmt: skip
    env = json.loads(result.stdout)
    try:
        page.goto(env["url"])
        page.get_by_text("user is preview-user").wait_for(timeout=30_000)
        assert "s3cret-pw-123" not in result.stdout + result.stderr
        copies = [p for p in state.rglob("*") if p.is_file() and b"s3cret-pw-123" in p.read_bytes()]
        assert copies and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in copies)
        checkout = [p for p in state.rglob("streamlit_app.py")] or []
        for app in checkout:
            assert not (app.parent / ".streamlit" / "secrets.toml").exists()
        status = cli("list", "--json", state_dir=state).stdout
        assert "s3cret" not in status
    finally:
        cli("close", "--repo", remote.url, "--pr", "3", state_dir=state)
    assert not [p for p in state.rglob("*") if p.is_file() and b"s3cret-pw-123" in p.read_bytes()]


def test_invalid_toml_names_the_line_and_never_echoes_it(tmp_path, remote):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[db]\npassword = "s3cret-pw-123\n')
    result = cli("open", "--repo", remote.url, "--branch", "main", "--pr", "3",
                 "--secrets-toml-file", str(secrets), state_dir=tmp_path / "state", check=False)  # fmt: skip
    assert result.returncode == 2
    assert "--secrets-toml-file" in result.stderr and "line 2" in result.stderr
    assert "s3cret" not in result.stderr
