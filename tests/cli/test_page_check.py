"""What the command line says is what the page does: after `open` and `sync` the preview looks
at its own page as a visitor would (a session on Streamlit's WebSocket), and an exception on
it is an app error: exit 1 with one line, `list` shows `app error`, `/status` has `page`.

Covers, with real Streamlit and the apps' own messages: a SyntaxError, an exception at run
time, a missing module, a failed install, a fixed commit after each, a slow app past
`check-timeout` (ok, "still running"), `check: none`, and no output in the unsigned /status.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.cli.test_local_lifecycle import cli

GOOD = "import streamlit as st\nst.set_page_config(page_title='Shop')\nst.write('fine')\n"
BROKEN = {
    "syntax": ({"streamlit_app.py": "import streamlit as st\ndef f(:\n    pass\n"},
               "app error at streamlit_app.py:2: SyntaxError"),
    "runtime": ({"streamlit_app.py": "import streamlit as st\nst.write('a')\nst.write(x)\n"},
                "app error at streamlit_app.py:3: NameError: name 'x' is not defined"),
    "missing module": ({"streamlit_app.py": "import streamlit as st\nimport not_installed_anywhere\n"},
                       "app error at streamlit_app.py:2: ModuleNotFoundError: No module named 'not_installed_anywhere'"),
    "failed install": ({"requirements.txt": "this-package-does-not-exist @ file:///nonexistent/x.whl\n"},
                       "app error in requirements.txt: RequirementsError"),
}  # fmt: skip


def _sync(remote, state) -> tuple[int, dict, str]:  # type: ignore[no-untyped-def]
    result = cli("sync", "--repo", remote.url, "--pr", "1", "--json", state_dir=state, check=False)
    return result.returncode, json.loads(result.stdout), result.stderr


def _control(state, env: dict) -> str:  # type: ignore[no-untyped-def]
    record = json.loads((state / "environments" / f"{env['environment']}.json").read_text())
    return f"http://127.0.0.1:{record['control_port']}"


@pytest.fixture
def preview(tmp_path, remote):  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    remote.commit({"streamlit_app.py": GOOD})
    opened = cli(
        "open", "--repo", remote.url, "--branch", "main", "--pr", "1", "--json", state_dir=state
    )
    yield state, json.loads(opened.stdout)
    cli("close", "--repo", remote.url, "--pr", "1", state_dir=state, check=False)


@pytest.mark.parametrize("case", list(BROKEN))
def test_an_app_error_fails_the_command_and_a_fix_recovers(case, preview, remote):
    state, opened = preview
    assert opened["status"] == "running" and opened["page_title"] == "Shop"
    files, expected = BROKEN[case]
    remote.commit(files)

    code, env, stderr = _sync(remote, state)

    assert code == 1 and env["status"] == "app error"
    assert stderr.strip().splitlines()[-1].startswith(expected), stderr
    listed = json.loads(cli("list", "--json", state_dir=state).stdout)
    assert [e["status"] for e in listed] == ["app error"]
    public = httpx.get(f"{_control(state, env)}/status").json()["page"]
    assert (
        public["state"] == "app_error"
        and public["error"]["type"]
        and public["error"]["message"] is None
    )
    assert public["checked_commit"] == env["commit"]

    remote.commit({"streamlit_app.py": GOOD.replace("fine", "fixed"), "requirements.txt": ""})
    code, env, stderr = _sync(remote, state)
    assert code == 0 and env["status"] == "running", stderr
    assert json.loads(cli("list", "--json", state_dir=state).stdout)[0]["status"] == "running"


def test_a_slow_page_is_ok_and_still_running(tmp_path, remote):
    state = tmp_path / "state"
    remote.commit(
        {"streamlit_app.py": "import time, streamlit as st\nst.write('slow')\ntime.sleep(20)\n"}
    )
    result = cli("open", "--repo", remote.url, "--branch", "main", "--pr", "2", "--check-timeout", "2s",
                 "--json", state_dir=state, check=False)  # fmt: skip
    try:
        assert result.returncode == 0, result.stderr
        env = json.loads(result.stdout)
        page = httpx.get(f"{_control(state, env)}/status").json()["page"]
        assert page["state"] == "ok" and page["note"] == "still running"
    finally:
        cli("close", "--repo", remote.url, "--pr", "2", state_dir=state, check=False)


def test_check_none_looks_at_nothing(tmp_path, remote):
    state = tmp_path / "state"
    remote.commit({"streamlit_app.py": "import streamlit as st\nst.write(x)\n"})
    result = cli("open", "--repo", remote.url, "--branch", "main", "--pr", "3", "--check", "none",
                 "--json", state_dir=state, check=False)  # fmt: skip
    try:
        assert result.returncode == 0, result.stderr
        env = json.loads(result.stdout)
        assert httpx.get(f"{_control(state, env)}/status").json()["page"]["state"] == "not_checked"
    finally:
        cli("close", "--repo", remote.url, "--pr", "3", state_dir=state, check=False)
