"""The reloader's behaviour, wired from its pieces: bootstrap, sync, status, readiness.

`gitsync` moves files, `deps` installs, `supervisor` runs Streamlit; this module decides
what a change means for the running app: nothing (Streamlit reruns by itself), a forced
rerun, or a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import NoReturn

from ..errors import PermanentSyncError, ServiceError, SyncError, UnknownCommitError
from ..statusdoc import ActivityStatus, ReloaderStatus
from ..versions import component_versions
from .config import ReloaderSettings
from .deps import (
    AppEnvironment,
    check_paths,
    needs_checkout,
    read_requirements,
    system_packages_file,
)
from .gitsync import Checkout, Update, public_url
from .pagecheck import AppError, PageCheckError, check_page
from .pagestate import Look, PageState
from .planning import (
    CacheClear,
    Install,
    Reaction,
    SyncPlan,
    plan_reaction,
    plan_sync,
    touches_requirements,
)
from .secrets import KnownSecrets
from .setup import SetupRun, SetupState, run_setup, watched
from .singleflight import SingleFlight
from .supervisor import StreamlitState, Supervisor

logger = logging.getLogger(__name__)

CLONE_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
ACTIVITY_POLL_SECONDS = 10.0  # how often open tabs are counted for /status's activity
RESTART_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class SyncOutcome:
    """What one fetch-and-apply run did; shared by every caller coalesced into it."""

    commit: str
    previous: str
    changed: bool
    restarted: bool
    unknown: frozenset[str]
    phases: tuple[tuple[str, float], ...] = ()  # (step, ms since the run began), in order
    tabs_rerun: bool = False  # open tabs are rerunning the new commit in the same process


class Laps:
    """When each step of a sync ended, in milliseconds since it began (`/sync`'s
    `phases_ms`, and the breakdown in bench/RESULTS.md)."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self.marks: list[tuple[str, float]] = []

    def mark(self, step: str) -> None:
        self.marks.append((step, round((time.monotonic() - self._start) * 1000, 1)))


@dataclass
class PartErrors:
    """The error each part of the reloader reports, None while it is fine."""

    fatal: str | None = None  # the start-up ended for good
    clone: str | None = None  # the first clone is being retried
    sync: str | None = None  # the last sync could not run
    install: str | None = None  # the requirements did not install
    app: str | None = None  # the main script is missing or broken


class Phase(StrEnum):
    """The reloader's start-up, as `/status` reports it (`phase`)."""

    CLONING = "cloning"
    INSTALLING = "installing requirements"
    SETUP = "setup"
    STARTING = "starting"
    SERVING = "serving"
    FAILED = "failed"


# Where each phase of the start-up may go next (`Reloader._enter` refuses anything else).
# `setup` is not a step of its own: the phase reads SETUP while a setup run is under way,
# at the start or at a sync that touches a watched file.
NEXT_PHASES: dict[Phase, frozenset[Phase]] = {
    Phase.CLONING: frozenset({Phase.INSTALLING, Phase.FAILED}),
    Phase.INSTALLING: frozenset({Phase.STARTING, Phase.FAILED}),
    Phase.STARTING: frozenset({Phase.SERVING, Phase.FAILED}),
    Phase.SERVING: frozenset(),
    Phase.FAILED: frozenset(),
}


class Reloader:
    """One checkout, one Streamlit, and the rules that keep them in step."""

    def __init__(
        self,
        settings: ReloaderSettings,
        *,
        supervisor: Supervisor,
        environment: AppEnvironment,
    ) -> None:
        self.settings = settings
        self.checkout = Checkout(
            url=settings.repo, branch=settings.branch, path=settings.workdir,
            token=settings.git_token, main_script=settings.app,
        )  # fmt: skip
        self.supervisor = supervisor
        self.secrets = KnownSecrets(settings, token=lambda: self.checkout.token)
        supervisor.redact = self.redact  # the app's output, masked before a line is cut
        self.environment = environment
        self.commit: str | None = None
        self.synced_at: str | None = None
        self.errors = PartErrors()  # each part's own; `last_error` is worked out from them
        self.requirements: str | None = None
        self.requirements_failed = False
        self.setup = SetupRun()
        self._phase = Phase.CLONING  # changed by _enter only (NEXT_PHASES)
        self._sync = SingleFlight[str, SyncOutcome](self._run_sync)
        self._background: set[asyncio.Task[None]] = set()  # the bootstrap, cancelled at close
        # Activity, for sleeping: when someone last looked (an open tab) or a commit came.
        self.activity = Activity()
        self.page = PageState()
        self.notes: list[str] = []  # what the author should know (e.g. an ignored packages.txt)
        self._check_task: asyncio.Task[None] | None = None

    # -- start --------------------------------------------------------------------------

    async def bootstrap(self) -> None:
        """Clone (retrying while the remote is unreachable), install, start Streamlit."""
        attempt = 0
        while self.commit is None:
            try:
                if self.settings.pin:
                    self.commit = await asyncio.to_thread(
                        self.checkout.clone_pinned, self.settings.pin
                    )
                else:
                    self.commit = await asyncio.to_thread(self.checkout.clone)
            except PermanentSyncError as exc:
                self._fail(str(exc))
            except SyncError as exc:
                self.errors.clone = str(exc)
                delay = CLONE_RETRY_SECONDS[min(attempt, len(CLONE_RETRY_SECONDS) - 1)]
                logger.error("%s; retrying in %.0f s", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
        self.synced_at = self.activity.touch()
        self.errors.clone = None
        logger.info("checked out %s at %s", self.settings.branch, self.commit[:12])
        self._enter(Phase.INSTALLING)
        packages = system_packages_file(self.checkout.read_file, self.settings.app)
        if packages:
            self.notes.append(
                f"{packages} lists apt packages, which previews do not install: build an image with"
                " them (FROM the preview image) and set the `image` input"
            )
            logger.warning("%s", self.notes[-1])
        await self._install_requirements(self.checkout.read_file)  # ends a stale warm launcher
        self._check_app()
        app_file = self._app_file()
        if app_file is None or not app_file.is_file():
            self._fail(self.last_error or f"app {self.settings.app!r} not found")
        await self._run_setup()
        self._enter(Phase.STARTING)
        if self._app_runnable():
            await self.supervisor.start()
        self._enter(Phase.SERVING)
        self.schedule_page_check()

    async def _run_setup(self) -> None:
        """The `setup` command, if any, with the app's environment; a failure is reported."""
        if not self.settings.setup:
            return
        env = dict(self.supervisor.options.env)
        env["PATH"] = f"{Path(self.environment.python).parent}:{env.get('PATH', '/usr/bin:/bin')}"
        await run_setup(self.settings.setup, cwd=self.settings.workdir, env=env, run=self.setup,
                        redact=self.redact)  # fmt: skip

    @property
    def phase(self) -> Phase:
        """The start-up's phase, or SETUP while a setup run is under way."""
        if self.setup.state is SetupState.RUNNING and self._phase is not Phase.FAILED:
            return Phase.SETUP
        return self._phase

    def _enter(self, phase: Phase) -> None:
        """The one place the phase changes."""
        if phase not in NEXT_PHASES[self._phase]:
            raise RuntimeError(f"the reloader cannot go from {self._phase} to {phase}")
        self._phase = phase

    def _fail(self, message: str) -> NoReturn:
        """End the start-up for good: the reloader then exits with this one line."""
        self.errors.fatal = message
        self._enter(Phase.FAILED)
        raise PermanentSyncError(message)

    # -- sync ---------------------------------------------------------------------------

    async def sync(
        self, sha: str | None, *, git_token: str | None = None
    ) -> tuple[SyncOutcome, float]:
        """Bring the checkout to the branch head; raise `UnknownCommitError` for a bad sha.

        `git_token` replaces the git credential from this sync on (a workflow's token dies
        with its job; each sync brings the current one).
        """
        started = time.monotonic()
        if git_token:
            self.checkout.token = git_token.strip()
        if self.commit is None:
            raise SyncError("the first clone has not finished yet")
        if self.settings.pin and sha is None:
            raise UnknownCommitError(
                f"this preview is pinned to {self.commit[:12]}: a sync must name the commit to serve"
            )
        try:
            outcome = await self._sync(sha)
        except UnknownCommitError:
            raise
        except SyncError as exc:
            self.errors.sync = str(exc)
            raise
        self.errors.sync = None
        if outcome.changed or outcome.restarted or self.page.checked_commit != outcome.commit:
            self.schedule_page_check(after_tabs=outcome.tabs_rerun)
        if sha is not None and sha in outcome.unknown:
            where = (
                "in the repository" if self.settings.pin else f"on branch {self.settings.branch!r}"
            )
            raise UnknownCommitError(f"commit {sha} was not found {where}")
        return outcome, (time.monotonic() - started) * 1000

    async def _run_sync(self, shas: frozenset[str]) -> SyncOutcome:
        if self.settings.pin:  # only to the commit a sync names: never a branch head
            return await self._move_pinned(shas)
        laps = Laps()
        head = await asyncio.to_thread(self.checkout.fetch)
        laps.mark("fetched")
        return await self._move_to(head, shas, laps)

    async def _move_pinned(self, shas: frozenset[str]) -> SyncOutcome:
        wanted = sorted(shas)[-1] if shas else self.checkout.head()
        if not await asyncio.to_thread(self.checkout.fetch_commit, wanted):
            head = self.checkout.head()
            return SyncOutcome(head, head, False, False, frozenset(shas))
        outcome = await self._move_to(wanted, frozenset())
        await asyncio.to_thread(self.checkout.detach, wanted)
        return SyncOutcome(outcome.commit, outcome.previous, outcome.changed, outcome.restarted,
                           frozenset(shas - {wanted}))  # fmt: skip

    async def _move_to(
        self, head: str, shas: frozenset[str], laps: Laps | None = None
    ) -> SyncOutcome:
        laps = laps or Laps()
        unknown = await self._unknown(shas, head)
        previous = self.checkout.head()
        update = await asyncio.to_thread(self.checkout.plan, head)
        plan = self._plan_sync(update, head)
        laps.mark("planned")
        needs_restart = False
        if plan.install is Install.BEFORE:
            needs_restart = await self._install_requirements(
                lambda path: self.checkout.read_at(head, path)
            )
            laps.mark("installed")
        # Asked before the files land (the tabs of a restarted process may not be back yet).
        counted = plan.count_viewers and not needs_restart  # a restart comes anyway
        viewers = await self.supervisor.viewers() if counted else None
        if plan.clear_cache is not CacheClear.NONE and not needs_restart:
            await self.supervisor.clear_caches(resources=plan.clear_cache is CacheClear.ALL)
            laps.mark("caches cleared")
        laps.mark("ready to write")
        changes = await asyncio.to_thread(self.checkout.apply, update)
        laps.mark("written")
        if plan.install is Install.AFTER:  # it installs from paths of the new commit
            needs_restart = await self._install_requirements(self.checkout.read_file)
        self.commit = head
        self.synced_at = self.activity.touch()
        if changes and watched(changes.paths, self.settings.setup_watch):
            await self._run_setup()
            needs_restart = True  # what setup made may be cached in the running app
        self._check_app()
        reaction = plan_reaction(
            changes, plan, app=self.settings.app, needs_restart=needs_restart,
            app_runnable=self._app_runnable(), viewers=viewers,
            streamlit_down=self.supervisor.state in (StreamlitState.STOPPED, StreamlitState.CRASHED),
        )  # fmt: skip
        await self._react(reaction)
        laps.mark(f"reacted ({reaction.value})")
        if changes:
            logger.info(
                "synced %s -> %s (%d files, %s)", previous[:12], head[:12], len(changes.paths),
                reaction.value,
            )  # fmt: skip
        tabs_rerun = bool(changes) and bool(viewers) and reaction is not Reaction.RESTART
        return SyncOutcome(head, previous, bool(changes), reaction is Reaction.RESTART,
                           frozenset(unknown), tuple(laps.marks), tabs_rerun)  # fmt: skip

    def _plan_sync(self, update: Update, head: str) -> SyncPlan:
        """`plan_sync` over the update's changes. The new commit's requirements are read only
        when an install comes, so a one-file push stays fast."""
        installing = self.requirements_failed or touches_requirements(
            update.changes, app=self.settings.app
        )
        read_new = lambda path: self.checkout.read_at(head, path)  # noqa: E731
        installs_from_checkout = installing and needs_checkout(
            read_requirements(read_new, self.settings.app) or ""
        )
        return plan_sync(update.changes, app=self.settings.app, install_failed=self.requirements_failed,
                         installs_from_checkout=installs_from_checkout,
                         clear_cache=self.settings.clear_cache)  # fmt: skip

    async def _unknown(self, shas: frozenset[str], head: str) -> set[str]:
        """The asked-for commits that are not on the branch up to `head`."""
        unknown = set()
        for sha in shas - {head}:
            found = await asyncio.to_thread(self.checkout.fetch_commit, sha)
            if not found or not await asyncio.to_thread(self.checkout.is_on_branch, sha, head):
                unknown.add(sha)
        return unknown

    async def _react(self, reaction: Reaction) -> None:
        """Carry out `plan_reaction`'s answer."""
        if reaction is Reaction.RESTART:
            started = time.monotonic()
            await self.supervisor.restart()
            # Answer once the new process serves, so "synced" means "live".
            await self.supervisor.wait_running(RESTART_WAIT_SECONDS)
            logger.info("streamlit restarted in %.1f s", time.monotonic() - started)
        elif reaction is Reaction.RERUN:
            self.supervisor.force_rerun()

    async def _install_requirements(self, read: Callable[[str], bytes | None]) -> bool:
        """Install the requirements `read` finds if they changed; True if a restart is needed.

        A failed install is retried at the next sync (and at the next start) until it works;
        until then `last_error` says so.
        """
        try:
            requirements = read_requirements(read, self.settings.app)
            if requirements == self.requirements and not self.requirements_failed:
                return False
            if requirements is None:  # none any more: a fresh deploy would have none either
                self.requirements, self.requirements_failed = None, False
                self.errors.install = None
                removed = await asyncio.to_thread(
                    self.environment.remove_all, cwd=self.settings.workdir
                )
                if removed:
                    await self.supervisor.discard_prewarmed()
                return removed
            check_paths(requirements, self.settings.workdir)
            started = time.monotonic()
            restart = await asyncio.to_thread(
                self.environment.install, requirements, cwd=self.settings.workdir
            )
            if restart:  # a warm launcher imported what the install replaced
                await self.supervisor.discard_prewarmed()
            self.requirements, self.requirements_failed = requirements, False
            self.errors.install = None
            logger.info("requirements ready in %.1f s", time.monotonic() - started)
            return restart
        except ServiceError as exc:
            self.requirements_failed = True
            self.errors.install = str(exc)
            logger.error("%s; the app keeps its previous packages until an install succeeds", exc)
            return False

    def _check_app(self) -> None:
        """Report a missing, escaping or broken main script in `last_error`."""
        self.errors.app = self._find_app_problem()
        if self.errors.app:
            logger.error("%s", self.errors.app)

    @property
    def last_error(self) -> str | None:
        """The error to report now, from each part's own: a fatal start-up error, then the
        clone being retried, a sync that could not run, a broken main script, failed
        requirements, a failed setup, and a crashed Streamlit."""
        sup = self.supervisor
        crashed = sup.last_exit if sup.state is StreamlitState.CRASHED else None
        return (self.errors.fatal or self.errors.clone or self.errors.sync or self.errors.app
                or self.errors.install or self.setup.error or crashed)  # fmt: skip

    def _app_file(self) -> Path | None:
        """The main script, resolved; None when it (or a link on the way) leaves the checkout."""
        root = self.settings.workdir.resolve()
        path = (root / self.settings.app).resolve()
        return path if path.is_relative_to(root) else None

    def _find_app_problem(self) -> str | None:
        app = self.settings.app
        path = self._app_file()
        if path is None:
            return f"app {app!r} resolves outside the repository"
        if not path.is_file():
            return f"app {app!r} is not in commit {(self.commit or '')[:12]}"
        try:
            compile(path.read_bytes(), app, "exec")
        except SyntaxError as exc:
            return f"SyntaxError in {app} line {exc.lineno}: {exc.msg}"
        except ValueError as exc:
            return f"cannot compile {app}: {exc}"
        return None

    def _app_runnable(self) -> bool:
        path = self._app_file()
        return path is not None and path.is_file()

    # -- the page, as a visitor sees it ------------------------------------------------

    def schedule_page_check(self, *, after_tabs: bool = False) -> None:
        """Look at the page in the background (a newer look replaces an older one); with
        `after_tabs`, once the open tabs' own rerun has run, so the look never slows it."""
        if self.settings.check != "page" or self.commit is None:
            return
        if self._check_task is not None and not self._check_task.done():
            self._check_task.cancel()
        self.page = PageState(state=Look.CHECKING, commit=self.commit)
        self._check_task = asyncio.get_running_loop().create_task(
            self._check_page(self.commit, after_tabs=after_tabs)
        )
        self._background.add(self._check_task)
        self._check_task.add_done_callback(self._background.discard)

    async def _check_page(self, commit: str, *, after_tabs: bool = False) -> None:
        if self.requirements_failed:
            line = (
                (self.errors.install or "the requirements did not install").strip().splitlines()[-1]
            )
            self.page = PageState.found(commit, [AppError("RequirementsError", line, "requirements.txt", None)],
                                        title=None, note=None)  # fmt: skip
            return
        if not await self.supervisor.wait_running(RESTART_WAIT_SECONDS):
            self.page = PageState(
                state=Look.NOT_CHECKED, commit=commit, note="Streamlit is not running"
            )
            return
        if after_tabs:
            await self.supervisor.settle()
        try:
            seen = await check_page(self.supervisor.options.local_base, workdir=self.settings.workdir,
                                    app=self.settings.app, timeout=self.settings.check_timeout)  # fmt: skip
        except PageCheckError as exc:
            self.page = PageState(state=Look.NOT_CHECKED, commit=commit, note=str(exc))
            return
        note = None if seen.finished else "still running"
        self.page = PageState.found(commit, seen.errors, title=seen.title, note=note)
        if seen.errors:
            logger.warning("%s", seen.errors[0].one_line())

    # -- views --------------------------------------------------------------------------

    async def ready(self) -> bool:
        """Ready when `/status` says so too: the checkout is there and Streamlit runs and
        answers its own health check. The readiness probe asks it: its first yes is when the
        router may send visitors, so the sleep clock starts again there (`Activity`)."""
        ready = (
            self.checkout.exists() and self.commit is not None
            and self.supervisor.state is StreamlitState.RUNNING and await self.supervisor.healthy()
        )  # fmt: skip
        self.activity.answered_ready(ready)
        return ready

    def redact(self, text: str) -> str:
        """`text` with every secret this reloader knows masked (see `secrets.py`)."""
        return self.secrets.redact(text)

    def _public_error(self, last_error: str | None) -> str | None:
        """`last_error` without what an app, a setup script or pip printed."""
        if last_error is None:
            return None
        if self.setup.error and last_error == self.setup.error:
            return f"setup exited with {self.setup.exit_code} (the output is in /status?detail=1)"
        if self.requirements_failed:
            return "the requirements did not install (pip's output is in /status?detail=1)"
        return self.secrets.redactor()(last_error)

    def status(self, *, detail: bool = False) -> ReloaderStatus:
        """`/status`. Without `detail` (no signature needed): states and exception types, no
        output of the app, setup or pip. With it: their redacted tails too."""
        sup = self.supervisor
        last_error = self.last_error
        redact = self.secrets.redactor()
        setup = self.setup.as_dict() if self.settings.setup else None
        if setup is not None:
            setup["tail"] = [redact(line) for line in self.setup.tail] if detail else None
        return {
            "commit": self.commit,
            "branch": self.settings.branch,
            "app": self.settings.app,
            "repo": public_url(self.settings.repo),
            "synced_at": self.synced_at,
            "phase": self.phase,
            "fetches": self.checkout.fetches,
            "syncs": self._sync.runs,
            "last_error": redact(last_error)
            if detail and last_error
            else self._public_error(last_error),
            "requirements": self.requirements is not None,
            "setup": setup,
            "page": self.page.as_dict(detail=detail, redact=redact),
            "notes": self.notes,
            "versions": component_versions(self.environment.package_version("streamlit")),
            "activity": self.activity.as_dict(),
            "streamlit": {
                "state": sup.state,
                "pid": sup.pid,
                "restarts": sup.restarts,
                "port": sup.options.port,
            },
        }

    async def watch_activity(self, every: float = ACTIVITY_POLL_SECONDS) -> None:
        """Count open tabs now and then: a preview with none and no commit for its
        `sleep-after` may be put to sleep by the receiver (it reads `activity` in /status)."""
        while True:
            if self.supervisor.state is StreamlitState.RUNNING:
                self.activity.saw(await self.supervisor.viewers())
            await asyncio.sleep(every)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self.supervisor.close()


@dataclass
class Activity:
    """When someone last looked (an open tab) or a commit came, for sleeping; a start (a
    wake) counts as activity."""

    viewers: int | None = None  # open tabs at the last count (None: not counted yet)
    active_at: str = field(default_factory=lambda: _now())
    ready: bool = False  # the last readiness answer

    def touch(self) -> str:
        """A commit came: now is the last activity (returned)."""
        self.active_at = _now()
        return self.active_at

    def answered_ready(self, ready: bool) -> None:
        """A readiness answer. The first yes after a no (a start, a wake, a recovery) counts
        as activity: visitors can come only from then, and a slow start must not put a woken
        preview straight back to sleep before the tab that woke it connects."""
        if ready and not self.ready:
            self.touch()
        self.ready = ready

    def saw(self, viewers: int | None) -> None:
        self.viewers = viewers
        if viewers:
            self.touch()

    def as_dict(self) -> ActivityStatus:
        return {"viewers": self.viewers, "active_at": self.active_at}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
