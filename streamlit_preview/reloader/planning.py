"""What a sync must do, decided before anything is done: pure functions, no I/O.

`plan_sync` reads the commit's changes and says how to install (before the files land, after,
or not), whether to drop Streamlit's caches, and whether to count the open tabs first.
`plan_reaction` then says, from what the steps found, how the running app follows: nothing
(Streamlit reruns by itself), a forced rerun, or a restart. `service.Reloader` carries the
plans out (kopf keeps handlers apart from its reactor; Argo CD diffs, then syncs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from .deps import dependency_files
from .gitsync import Changes

RESTART_FILES = (".streamlit/config.toml",)  # Streamlit reads its server config at start only


class Install(StrEnum):
    NONE = "none"
    BEFORE = "before"  # from the new commit's files: what they import is there when they land
    AFTER = "after"  # from paths inside the commit (`-e .`, `./pkg`): once they are on disk


class CacheClear(StrEnum):
    NONE = "none"
    DATA = "data"  # st.cache_data
    ALL = "all"  # st.cache_data and st.cache_resource


class Reaction(StrEnum):
    NOTHING = "nothing"  # Streamlit reruns by itself for the modules it imported
    RERUN = "rerun"  # every open tab reruns (new modules, pages, data files, a new install)
    RESTART = "restart"  # a new process (new packages, server config, stale modules)


@dataclass(frozen=True)
class SyncPlan:
    install: Install
    retry_install: bool  # the last install failed: try again though no dependency file changed
    clear_cache: CacheClear
    count_viewers: bool  # Python changes: zero open tabs means stale modules, so restart


def touches_requirements(changes: Changes, *, app: str) -> bool:
    """Whether `changes` include a file the app's requirements are read from."""
    return any(p in dependency_files(app) for p in changes.paths)


def plan_sync(
    changes: Changes, *, app: str, install_failed: bool, installs_from_checkout: bool,
    clear_cache: str,
) -> SyncPlan:  # fmt: skip
    """What a sync of `changes` does before and while its files land.

    `clear_cache` is the `clear-cache` input: `data` drops `st.cache_data` after a change to
    anything but Python source, and `st.cache_resource` too when the requirements or
    `.streamlit/` change; `all` drops both after any such change; `never` keeps both.
    """
    paths = changes.paths
    dependencies = touches_requirements(changes, app=app)
    install = Install.NONE
    if dependencies or install_failed:
        install = Install.AFTER if installs_from_checkout else Install.BEFORE
    return SyncPlan(
        install=install,
        retry_install=install_failed and not dependencies,
        clear_cache=_cache_clear(paths, app=app, mode=clear_cache),
        count_viewers=any(p.endswith(".py") for p in paths),
    )


def _cache_clear(paths: Iterable[str], *, app: str, mode: str) -> CacheClear:
    other = [p for p in paths if not p.endswith(".py")]
    if mode == "never" or not other:
        return CacheClear.NONE
    if mode == "all":
        return CacheClear.ALL
    resources = any(p in dependency_files(app) or p.startswith(".streamlit/") for p in other)
    return CacheClear.ALL if resources else CacheClear.DATA


def plan_reaction(
    changes: Changes, plan: SyncPlan, *, app: str, needs_restart: bool, app_runnable: bool,
    streamlit_down: bool, viewers: int | None,
) -> Reaction:  # fmt: skip
    """How the running app follows the sync, once its files landed.

    `needs_restart`: the install replaced something the app may have imported, or setup ran.
    `viewers`: the open tabs counted before the files landed (None: unknown).
    """
    paths = changes.paths
    if not paths and not plan.retry_install:
        return Reaction.NOTHING
    if not app_runnable:
        return Reaction.NOTHING  # the reason is reported; a restart would only crash
    if needs_restart or streamlit_down or any(p in RESTART_FILES for p in paths):
        return Reaction.RESTART
    if plan.count_viewers and viewers == 0:
        return Reaction.RESTART  # nobody is looking: old modules would linger in sys.modules
    if plan.install is not Install.NONE:
        return Reaction.RERUN  # packages arrived after (or without) the files' own rerun
    if app not in paths and _needs_forced_rerun(changes):
        return Reaction.RERUN
    return Reaction.NOTHING


def _needs_forced_rerun(changes: Changes) -> bool:
    """Streamlit reruns by itself only for modified modules it has imported."""
    if changes.added or changes.deleted:
        return True
    return any(
        not p.endswith(".py") or PurePosixPath(p).parts[0] == "pages" for p in changes.modified
    )
