"""Apps that pin their own Streamlit: every release of the last two years must work.

The app environment's Streamlit then shadows the image's. Releases before 1.53 publish no
session count in `/_stcore/metrics` (and serve with Tornado, not uvicorn), so the reloader
must count open tabs another way, and must never read "unknown" as "nobody is looking".
These tests install the real releases from the package index and watch a real tab.
"""

from __future__ import annotations

import itertools

import pytest

from streamlit_preview.versions import installed_version
from tests.fixtures.browser import ERROR_RECORDER
from tests.fixtures.processes import ReloaderProcess, wait_for

pytestmark = pytest.mark.browser

OLDEST_IN_WINDOW = "1.41.1"  # December 2024: the oldest release of the last two years
LAST_WITHOUT_SESSION_METRICS = "1.52.2"
FIRST_WITH_SESSION_METRICS = "1.53.1"
INSTALL_TIMEOUT = 300


def _app(label: str) -> str:
    return (
        "import streamlit as st\nfrom helpers import NOTE\n"
        f'st.title("{label}")\nst.write("running streamlit", st.__version__)\nst.write(NOTE)\n'
    )


def _start_pinned(remote, start_reloader, version: str | None) -> ReloaderProcess:  # type: ignore[no-untyped-def]
    files = {"streamlit_app.py": _app("step 0"), "helpers.py": "NOTE = 'note 0'\n"}
    if version:
        files["requirements.txt"] = f"streamlit=={version}\n"
    remote.commit(files, f"pin streamlit {version}")
    reloader = start_reloader(remote.url)
    reloader.wait_ready(INSTALL_TIMEOUT)
    expected = version or installed_version("streamlit")
    assert reloader.status()["versions"]["streamlit"] == expected
    return reloader


def _open(page, reloader: ReloaderProcess, version: str) -> float:  # type: ignore[no-untyped-def]
    page.add_init_script(ERROR_RECORDER)
    page.goto(reloader.url)
    page.get_by_text(f"running streamlit {version}").wait_for(timeout=30_000)
    return page.evaluate("performance.timeOrigin")


def _commit_and_see(remote, reloader: ReloaderProcess, page, label: str) -> dict:  # type: ignore[no-untyped-def]
    new = remote.commit({"streamlit_app.py": _app(label)}, label)
    answer = reloader.sync(new)
    assert answer.status_code == 200, answer.text
    page.get_by_text(label, exact=True).wait_for(timeout=15_000)
    return answer.json()


@pytest.mark.parametrize(
    "version", [OLDEST_IN_WINDOW, LAST_WITHOUT_SESSION_METRICS, FIRST_WITH_SESSION_METRICS]
)
def test_an_open_tab_follows_every_commit_before_and_after_a_restart(
    remote, start_reloader, page, version
):  # type: ignore[no-untyped-def]
    reloader = _start_pinned(remote, start_reloader, version)
    origin = _open(page, reloader, version)

    # A tab is open: a changed helper module reruns in place, no restart ("unknown" or a
    # real count, never "nobody is looking").
    helper = remote.commit({"helpers.py": "NOTE = 'note 1'\n"}, "helper")
    assert reloader.sync(helper).json()["restarted"] is False
    page.get_by_text("note 1").wait_for(timeout=15_000)
    _commit_and_see(remote, reloader, page, "step 1")

    # A server setting changes: Streamlit restarts, the tab reconnects to the new process.
    config = remote.commit({".streamlit/config.toml": "[theme]\nbase = 'dark'\n"}, "config")
    assert reloader.sync(config).json()["restarted"] is True
    for step in range(2, 5):
        assert _commit_and_see(remote, reloader, page, f"step {step}")["restarted"] is False

    assert page.evaluate("performance.timeOrigin") == origin, "the tab navigated"
    assert page.evaluate("window.__previewErrors") == []
    assert reloader.status()["versions"]["streamlit"] == version

    # Every tab closed: now nobody is looking, and a restart drops the stale modules.
    page.context.close()
    notes = itertools.count(2)

    def helper_change_restarts() -> bool:
        change = remote.commit({"helpers.py": f"NOTE = 'note {next(notes)}'\n"})
        return reloader.sync(change).json()["restarted"]

    # (Zero viewers right after a restart means "still reconnecting" for a few seconds.)
    wait_for(helper_change_restarts, timeout=20, interval=1,
             message="a sync with no tab open did not restart Streamlit")  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after"),
    [(LAST_WITHOUT_SESSION_METRICS, FIRST_WITH_SESSION_METRICS), (None, OLDEST_IN_WINDOW)],
    ids=["old-to-new", "image-to-old"],
)
def test_a_streamlit_version_change_reloads_the_open_tab(
    remote, start_reloader, page, before, after
):  # type: ignore[no-untyped-def]
    """The rerun after the reconnect brings the new version; the tab's frontend (1.45 and
    later) then reloads itself, as Streamlit does when it meets another version."""
    reloader = _start_pinned(remote, start_reloader, before)
    origin = _open(page, reloader, before or installed_version("streamlit"))

    _change_pin(remote, reloader, after)

    page.get_by_text(f"running streamlit {after}").wait_for(timeout=30_000)
    assert page.evaluate("performance.timeOrigin") != origin, "the stale tab was not reloaded"
    _commit_and_see(remote, reloader, page, "after the change")
    assert page.evaluate("window.__previewErrors") == []


def test_a_frontend_older_than_1_45_follows_a_version_change_without_reloading(
    remote, start_reloader, page
):  # type: ignore[no-untyped-def]
    """Frontends before 1.45 forget the server's version when the connection drops, so they
    never notice it changed and cannot be told to reload. They must still follow the branch."""
    reloader = _start_pinned(remote, start_reloader, OLDEST_IN_WINDOW)
    _open(page, reloader, OLDEST_IN_WINDOW)

    _change_pin(remote, reloader, LAST_WITHOUT_SESSION_METRICS)

    page.get_by_text(f"running streamlit {LAST_WITHOUT_SESSION_METRICS}").wait_for(timeout=30_000)
    _commit_and_see(remote, reloader, page, "after the change")
    assert page.evaluate("window.__previewErrors") == []


def _change_pin(remote, reloader: ReloaderProcess, version: str) -> None:  # type: ignore[no-untyped-def]
    pin = remote.commit({"requirements.txt": f"streamlit=={version}\n"}, f"pin {version}")
    answer = reloader.sync(pin)
    assert answer.status_code == 200 and answer.json()["restarted"] is True, answer.text
    assert reloader.status()["versions"]["streamlit"] == version
