"""`reloader/planning.py`: what a sync does, decided from its changes alone (table-driven,
in process; the process tests show the same decisions carried out)."""

from __future__ import annotations

import pytest

from streamlit_preview.reloader.gitsync import Changes
from streamlit_preview.reloader.planning import (
    CacheClear,
    Install,
    Reaction,
    SyncPlan,
    plan_reaction,
    plan_sync,
)

APP = "streamlit_app.py"


def plan(*modified: str, added: tuple[str, ...] = (), failed: bool = False,
         from_checkout: bool = False, clear_cache: str = "data") -> SyncPlan:  # fmt: skip
    return plan_sync(Changes(added=added, modified=modified), app=APP, install_failed=failed,
                     installs_from_checkout=from_checkout, clear_cache=clear_cache)  # fmt: skip


@pytest.mark.parametrize(
    ("modified", "failed", "from_checkout", "install", "retry"),
    [
        ((APP,), False, False, Install.NONE, False),
        (("requirements.txt",), False, False, Install.BEFORE, False),
        (("requirements.txt",), False, True, Install.AFTER, False),
        (("pyproject.toml",), False, False, Install.BEFORE, False),
        ((APP,), True, False, Install.BEFORE, True),  # a failed install is retried as a field
        (("docs/requirements.txt",), False, False, Install.NONE, False),  # not the app's
    ],
)
def test_when_and_how_to_install(modified, failed, from_checkout, install, retry):
    planned = plan(*modified, failed=failed, from_checkout=from_checkout)
    assert (planned.install, planned.retry_install) == (install, retry)


@pytest.mark.parametrize(
    ("modified", "mode", "clear"),
    [
        ((APP,), "data", CacheClear.NONE),  # Python only: Streamlit invalidates what it touches
        (("lib/loader.py", "pages/2_more.py"), "data", CacheClear.NONE),
        (("data/values.csv",), "data", CacheClear.DATA),
        (("data/values.csv", APP), "data", CacheClear.DATA),
        (("requirements.txt",), "data", CacheClear.ALL),  # connections and models too
        ((".streamlit/secrets.toml",), "data", CacheClear.ALL),
        (("data/values.csv",), "all", CacheClear.ALL),
        ((APP,), "all", CacheClear.NONE),
        (("data/values.csv",), "never", CacheClear.NONE),
        (("requirements.txt",), "never", CacheClear.NONE),
    ],
)
def test_which_caches_a_sync_drops(modified, mode, clear):
    assert plan(*modified, clear_cache=mode).clear_cache is clear


def react(planned: SyncPlan, changes: Changes, **facts: object) -> Reaction:
    given: dict = {"needs_restart": False, "app_runnable": True, "streamlit_down": False,
                   "viewers": 1} | facts  # fmt: skip
    return plan_reaction(changes, planned, app=APP, **given)


@pytest.mark.parametrize(
    ("modified", "added", "facts", "reaction"),
    [
        ((APP,), (), {}, Reaction.NOTHING),  # Streamlit reruns by itself
        (("lib/util.py",), (), {}, Reaction.NOTHING),
        (("pages/2_more.py",), (), {}, Reaction.RERUN),  # pages are not watched as modules
        ((), ("lib/new.py",), {}, Reaction.RERUN),  # a new module
        (("data/values.csv",), (), {}, Reaction.RERUN),
        (("data/values.csv", APP), (), {}, Reaction.NOTHING),  # the app's own rerun
        ((APP,), (), {"viewers": 0}, Reaction.RESTART),  # nobody looks: stale modules
        ((APP,), (), {"viewers": None}, Reaction.NOTHING),  # unknown is not "nobody"
        ((APP,), (), {"needs_restart": True}, Reaction.RESTART),
        ((APP,), (), {"streamlit_down": True}, Reaction.RESTART),
        ((".streamlit/config.toml",), (), {}, Reaction.RESTART),
        ((APP,), (), {"app_runnable": False, "streamlit_down": True}, Reaction.NOTHING),
        (("requirements.txt",), (), {}, Reaction.RERUN),  # added packages: a rerun shows them
    ],
)
def test_how_the_running_app_follows(modified, added, facts, reaction):
    changes = Changes(added=added, modified=modified)
    planned = plan(*modified, added=added)
    assert react(planned, changes, **facts) is reaction


def test_nothing_changed_and_nothing_retried_is_nothing():
    assert react(plan(), Changes()) is Reaction.NOTHING


def test_a_retried_install_that_worked_reruns_though_no_file_changed():
    retried = plan(failed=True)
    assert retried.retry_install
    assert react(retried, Changes()) is Reaction.RERUN
    assert react(retried, Changes(), needs_restart=True) is Reaction.RESTART
