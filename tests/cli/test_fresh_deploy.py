"""A preview shows what a fresh deploy of its commit shows (issue 26): a real reloader on the
local backend, a real Streamlit, a real browser tab left open across syncs.

Covers: a `st.cache_data` loader of `data/values.csv` shows the new values after a commit
changes the file; a loader that cached "file not found" shows the data once a commit adds it,
and the page check says ok; a commit of code only keeps a slow cached value; `clear-cache:
never` keeps the old behaviour; a requirement removed while the code still imports it fails
`sync` with `ModuleNotFoundError`, as a fresh deploy would; a commit that pins another
Streamlit version shows the app on that version in the open tab, with no error block.
"""

from __future__ import annotations

import json

import pytest

from tests.cli.test_local_lifecycle import cli
from tests.fixtures.wheels import make_wheel

LOADER = """import pathlib, time
import streamlit as st

@st.cache_data
def load():
    path = pathlib.Path("data/values.csv")
    if not path.exists():
        return "directory 'data' not found"
    return "values: " + path.read_text().strip().replace(chr(10), ",")

@st.cache_data
def slow():
    time.sleep(1)
    return f"computed at {time.time():.6f}"

st.title("{title}")
st.write(load())
st.write(slow())
"""


def _open(remote, state, pr: int, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("open", "--repo", remote.url, "--branch", "main", "--pr", str(pr), "--json",
                 *extra, state_dir=state)  # fmt: skip
    return json.loads(result.stdout)


def _sync(remote, state, pr: int, *, check: bool = True):  # type: ignore[no-untyped-def]
    return cli(
        "sync", "--repo", remote.url, "--pr", str(pr), "--json", state_dir=state, check=check
    )


def _close(remote, state, pr: int) -> None:  # type: ignore[no-untyped-def]
    cli("close", "--repo", remote.url, "--pr", str(pr), state_dir=state, check=False)


def _text(page, prefix: str) -> str:  # type: ignore[no-untyped-def]
    return page.get_by_text(prefix).first.inner_text()


@pytest.mark.browser
def test_a_cached_loader_follows_the_data_file_and_a_code_change_keeps_the_cache(
    tmp_path, remote, page
):
    state = tmp_path / "state"
    remote.commit(
        {"streamlit_app.py": LOADER.replace("{title}", "Shop"), "data/values.csv": "1\n2\n"}
    )
    env = _open(remote, state, 1)
    try:
        page.goto(env["url"])
        page.get_by_text("values: 1,2").wait_for(timeout=30_000)
        computed = _text(page, "computed at")
        origin = page.evaluate("performance.timeOrigin")

        remote.commit({"data/values.csv": "3\n4\n"})
        _sync(remote, state, 1)
        page.get_by_text("values: 3,4").wait_for(timeout=15_000)

        remote.commit({"streamlit_app.py": LOADER.replace("{title}", "Shop, renamed")})
        _sync(remote, state, 1)
        page.get_by_text("Shop, renamed").wait_for(timeout=15_000)
        assert page.get_by_text("values: 3,4").count() == 1
        # Only Python changed: the slow value is the one computed after the data change.
        assert _text(page, "computed at") != computed  # recomputed once, after the data change
        kept = _text(page, "computed at")
        remote.commit({"streamlit_app.py": LOADER.replace("{title}", "Shop, again")})
        _sync(remote, state, 1)
        page.get_by_text("Shop, again").wait_for(timeout=15_000)
        assert _text(page, "computed at") == kept  # no recompute for a code-only change
        assert page.evaluate("performance.timeOrigin") == origin  # no reload, no restart
    finally:
        _close(remote, state, 1)


@pytest.mark.browser
def test_a_loader_that_cached_a_missing_file_shows_the_data_once_it_is_added(
    tmp_path, remote, page
):
    state = tmp_path / "state"
    remote.commit({"streamlit_app.py": LOADER.replace("{title}", "Dashboard")})
    env = _open(remote, state, 2)
    try:
        page.goto(env["url"])
        page.get_by_text("directory 'data' not found").wait_for(timeout=30_000)
        remote.commit({"data/values.csv": "7\n8\n"})
        synced = json.loads(_sync(remote, state, 2).stdout)
        page.get_by_text("values: 7,8").wait_for(timeout=15_000)
        assert synced["status"] == "running" and synced["app_error"] is None
    finally:
        _close(remote, state, 2)


@pytest.mark.browser
def test_clear_cache_never_keeps_the_cached_values(tmp_path, remote, page):
    state = tmp_path / "state"
    remote.commit({"streamlit_app.py": LOADER.replace("{title}", "Kept"), "data/values.csv": "1\n"})
    env = _open(remote, state, 3, "--clear-cache", "never")
    try:
        page.goto(env["url"])
        page.get_by_text("values: 1").wait_for(timeout=30_000)
        remote.commit({"data/values.csv": "5\n", "notes.md": "a forced rerun\n"})
        _sync(remote, state, 3)
        page.wait_for_timeout(1500)  # the forced rerun has run by now
        assert (
            page.get_by_text("values: 1").count() == 1
            and page.get_by_text("values: 5").count() == 0
        )
    finally:
        _close(remote, state, 3)


def test_a_removed_requirement_the_code_still_imports_fails_as_a_fresh_deploy(tmp_path, remote):
    state = tmp_path / "state"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "previewextra", "1.0", "GREETING = 'from the extra package'\n")
    app = "import streamlit as st\nimport previewextra\nst.write(previewextra.GREETING)\n"
    remote.commit({"streamlit_app.py": app,
                   "requirements.txt": f"--find-links {wheels}\npreviewextra\n"})  # fmt: skip
    env = _open(remote, state, 4)
    try:
        assert env["status"] == "running", env
        remote.commit({"requirements.txt": "# nothing any more\n"})
        result = _sync(remote, state, 4, check=False)
        assert result.returncode == 1, result.stderr
        assert "ModuleNotFoundError" in result.stderr and "previewextra" in result.stderr
        assert json.loads(result.stdout)["status"] == "app error"
    finally:
        _close(remote, state, 4)


OTHER_STREAMLIT = "1.66.0"  # from PyPI: the image has 1.67


@pytest.mark.browser
def test_a_new_streamlit_version_reaches_the_open_tab_without_an_error(tmp_path, remote, page):
    """The restart brings another frontend: the open tab loads it (a full reload at the same
    URL), so a widget whose code the old frontend would fetch from the new server works."""
    state = tmp_path / "state"
    remote.commit(
        {"streamlit_app.py": "import streamlit as st\nst.title('on ' + st.__version__)\n"}
    )
    env = _open(remote, state, 5)
    failed_imports: list[str] = []
    page.on(
        "console",
        lambda m: failed_imports.append(m.text) if "dynamically imported" in m.text else None,
    )
    try:
        page.goto(env["url"] + "?tab=kept")
        page.get_by_text("on 1.").wait_for(timeout=30_000)
        before = page.get_by_role("heading").first.inner_text()
        origin = page.evaluate("performance.timeOrigin")
        remote.commit({
            "requirements.txt": f"streamlit=={OTHER_STREAMLIT}\n",
            "streamlit_app.py": "import streamlit as st\nst.title('on ' + st.__version__)\n"
                                "st.chat_input('Say something')\nst.data_editor({'a': [1, 2]})\n",
        })  # fmt: skip
        synced = json.loads(_sync(remote, state, 5).stdout)
        assert synced["status"] == "running"
        page.get_by_text(f"on {OTHER_STREAMLIT}").wait_for(timeout=60_000)
        page.get_by_placeholder("Say something").wait_for(timeout=15_000)
        assert before != f"on {OTHER_STREAMLIT}"
        assert "?tab=kept" in page.url
        assert page.evaluate("performance.timeOrigin") != origin  # reloaded: the new frontend
        # The new frontend renders the new widgets: no error block, now or after a moment.
        assert page.locator("[data-testid='stException']").count() == 0
        page.wait_for_timeout(1000)
        assert page.locator("[data-testid='stException']").count() == 0
        assert "Failed to fetch dynamically imported module" not in page.content()
    finally:
        _close(remote, state, 5)
