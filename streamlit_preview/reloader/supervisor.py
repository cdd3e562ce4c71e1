"""The Streamlit child: start, health, crash restarts with backoff, graceful stop, reruns.

Streamlit runs in its own process group so that a stop reaches anything it spawned. A stop
sends SIGTERM, then SIGKILL after `STOP_GRACE_SECONDS`: in its first half second SIGTERM
kills it without its handler, and once in hundreds of cycles it ignored SIGTERM.

A rerun of every open tab is forced by rewriting the user config file that Streamlit
polls (`$HOME/.streamlit/config.toml`): Streamlit reruns only for files it already imported,
so new modules, new pages and data files need this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx

from .launcher import Launcher, prewarm
from .lines import output_lines
from .options import StreamlitOptions
from .viewers import Peer, connected_peers

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_AFTER_SECONDS = 60.0
HEALTH_POLL_SECONDS = 0.01  # a refused connection costs microseconds: ask often while starting
# A running Streamlit that stops answering its health check (a deadlock, a stuck import) is
# killed and restarted; after this many such restarts in a row the reloader reports itself
# unhealthy, so the kubelet restarts the whole pod.
HANG_CHECK_SECONDS = 5.0
HANG_TIMEOUT_SECONDS = 3.0
HANG_FAILURES = 3
HANG_RESTARTS_BEFORE_UNHEALTHY = 3
# After a restart, open tabs reconnect with the client's backoff: watch for them this long,
# closely at first.
RECONNECT_WINDOW_SECONDS = 120.0
RECONNECT_FAST_SECONDS = 10.0
RECONNECT_SETTLE_SECONDS = 0.3
CLEAR_TIMEOUT_SECONDS = 5.0
SETTLE_TIMEOUT_SECONDS = 3.5
SESSIONS_TIMEOUT_SECONDS = 0.5
SPARE_SECONDS = 600.0  # how long a warm launcher waits for a restart before it is ended
SPARE_DELAY_SECONDS = 2.0  # made this long after a start serves, off every critical path
RESTART_SETTLE_SECONDS = 60.0
_OWN_PROBE = re.compile(r" 200 GET /_stcore/(?:health|metrics) \(")
_METRIC = re.compile(
    r'^(active_sessions|session_events_total\{type="(?:re)?connect"\})\s+(\d+)', re.M
)


class StreamlitState(StrEnum):
    """Where the Streamlit child is; `/status` reports it as `streamlit.state`."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    CRASHED = "crashed"


@dataclass
class Record:
    """What happened to the Streamlit children so far: `/status` reports the restarts and the
    last exit; crashes in a row set the backoff; hangs that restarts did not cure make the
    reloader unhealthy."""

    restarts: int = 0
    last_exit: str | None = None
    started_at: float = 0.0  # monotonic time of the current child's start
    failures: int = 0  # crashes in a row, each within STABLE_AFTER_SECONDS of its start
    hang_restarts: int = 0

    def crashed(self, now: float) -> float:
        """Count a crash at `now`; the seconds to wait before the next start."""
        stable = now - self.started_at > STABLE_AFTER_SECONDS
        self.failures = 0 if stable else self.failures + 1
        return BACKOFF_SECONDS[min(self.failures, len(BACKOFF_SECONDS)) - 1] if self.failures else 0


class Supervisor:
    """Owns one Streamlit process at a time; every method is called on the event loop."""

    def __init__(self, options: StreamlitOptions, *, prewarmed: Launcher | None = None) -> None:
        self.options = options
        # A launcher that imported Streamlit ahead of the first start (see `launcher`).
        self._prewarmed = prewarmed
        self._state = StreamlitState.STOPPED
        self._running = asyncio.Event()  # set while the state is RUNNING: waits wake at once
        self.record = Record()  # restarts, exits, crash backoff, hangs
        self.output: deque[str] = deque(maxlen=40)
        self._launcher: Launcher | None = None  # the running one: our hook in its process
        self._watcher: asyncio.Task[None] | None = None
        self._reconnects: asyncio.Task[None] | None = None
        self._spare: asyncio.Task[None] | None = None  # keeps a warm launcher for a while
        self._tabs_may_return = False
        self._stopping = False
        self._lock = asyncio.Lock()
        self._rerun_counter = 0
        self._http = httpx.AsyncClient(timeout=2.0, trust_env=False)
        # Masks the secrets the reloader knows in each line of output, before it is cut.
        self.redact: Callable[[str], str] = lambda text: text
        self._write_user_config()

    @property
    def restarts(self) -> int:
        return self.record.restarts

    @property
    def last_exit(self) -> str | None:
        return self.record.last_exit

    @property
    def state(self) -> StreamlitState:
        return self._state

    def _set_state(self, state: StreamlitState) -> None:
        """The one place the state changes."""
        self._state = state
        if state is StreamlitState.RUNNING:
            self._running.set()
        else:
            self._running.clear()

    @property
    def _process(self) -> asyncio.subprocess.Process | None:
        return self._launcher.process if self._launcher else None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process and self._process.returncode is None else None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start Streamlit unless it runs; returns at once, health is tracked in `state`."""
        async with self._lock:
            self._stopping = False
            if self.pid is None:
                await self._spawn()

    async def restart(self) -> None:
        """Replace the process (new packages, new server config, stale modules).

        The old process is killed outright: nothing of it needs saving, its tabs reconnect to
        the new one either way, and a graceful stop would add half a second to every restart.
        """
        async with self._lock:
            had_process = self._process is not None
            # Its open tabs will reconnect: until they had time to, zero viewers means unknown.
            self._tabs_may_return = had_process and await self.viewers() != 0
            await self._terminate(grace=0.0)
            self._stopping = False
            if had_process:
                self.record.restarts += 1
            await self._spawn()

    async def stop(self) -> None:
        """Stop Streamlit for good (shutdown): SIGTERM, then SIGKILL after the grace period."""
        async with self._lock:
            self._stopping = True
            await self._terminate()
            self._set_state(StreamlitState.STOPPED)

    async def close(self) -> None:
        for task in (self._reconnects, self._spare):
            if task is not None:
                task.cancel()
        await self.discard_prewarmed()
        await self.stop()
        await self._http.aclose()

    async def discard_prewarmed(self) -> None:
        """The head start is of no use (the app's requirements changed what Streamlit would
        import): end the waiting launcher."""
        launcher, self._prewarmed = self._prewarmed, None
        if launcher is not None and launcher.process.returncode is None:
            _signal_group(launcher.process.pid, signal.SIGKILL)
            await launcher.process.wait()

    async def _spawn(self) -> None:
        self._set_state(StreamlitState.STARTING)
        self.record.started_at = time.monotonic()
        command = self.options.command()
        launcher = self._prewarmed
        if launcher and launcher.command == command and launcher.process.returncode is None:
            self._prewarmed = None
        else:
            await self.discard_prewarmed()
            launcher = await prewarm(self.options)  # `go` at once: no head start, the hook
        await launcher.go()
        self._launcher = launcher
        assert self._process is not None
        logger.info("streamlit started (pid %s, port %s)", self._process.pid, self.options.port)
        self._watcher = asyncio.create_task(self._watch(self._process))
        if self._spare is not None:  # one spare-keeping task: this start's replaces the last
            self._spare.cancel()
        self._spare = asyncio.create_task(self._keep_a_spare())
        if self.record.restarts:  # tabs of the process it replaces will reconnect to this one
            if self._reconnects is not None:
                self._reconnects.cancel()
            self._reconnects = asyncio.create_task(self.rerun_on_reconnect())

    async def _keep_a_spare(self) -> None:
        """A warm launcher (Streamlit imported, waiting for `go`) for the next restart, made
        once this start serves and its tabs have rerun, and kept `SPARE_SECONDS`: a restart
        then skips Streamlit's import. Pushes come in bursts; an idle preview does not pay
        the spare's memory (about 50 MB) for long."""
        if not await self.wait_running(RESTART_SETTLE_SECONDS):
            return
        await asyncio.sleep(SPARE_DELAY_SECONDS)  # after the tabs' reconnect and the page check
        if self._prewarmed is None and not self._stopping:
            self._prewarmed = await prewarm(self.options)
        await asyncio.sleep(SPARE_SECONDS)
        await self.discard_prewarmed()

    async def _terminate(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds (at once when `grace` is 0)."""
        process, watcher = self._process, self._watcher
        self._stopping = True
        if process is None:
            return
        if process.returncode is None and grace > 0:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                logger.warning("streamlit ignored SIGTERM for %.0f s; killing it", grace)
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
        _signal_group(process.pid, signal.SIGKILL)  # anything it left behind in its group
        if watcher is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        self._launcher = None

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        """Forward output, track health, and restart after a crash with capped backoff."""
        health = asyncio.create_task(self._await_health(process))
        assert process.stdout is not None
        async for line in output_lines(process.stdout, redact=self.redact):
            if _OWN_PROBE.search(line):
                continue  # some releases log every request, our health checks included
            launcher = self._launcher
            if launcher is not None and launcher.acknowledge(line):
                continue  # the launcher's answer to one of our commands, not Streamlit's
            self.output.append(line)
            print(f"[streamlit] {line}", file=sys.stderr, flush=True)
        code = await process.wait()
        health.cancel()
        if self._stopping:
            return
        delay = self.record.crashed(time.monotonic())
        tail = next((ln for ln in reversed(self.output) if ln.strip()), "")
        self.record.last_exit = f"Streamlit exited with {code}" + (
            f": {tail.strip()}" if tail else ""
        )
        self._set_state(StreamlitState.CRASHED)
        logger.error("%s; restarting in %.0f s", self.record.last_exit, delay)
        asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._respawn(process))
        )

    async def _respawn(self, crashed: asyncio.subprocess.Process) -> None:
        async with self._lock:
            if self._stopping or self._process is not crashed:
                return
            self.record.restarts += 1
            self._tabs_may_return = True
            await self._spawn()

    @property
    def unhealthy(self) -> bool:
        """True when restarts did not cure a hang, or when the loop that drains Streamlit's
        output and restarts it has died: time for the kubelet to restart the pod."""
        return self.record.hang_restarts >= HANG_RESTARTS_BEFORE_UNHEALTHY or self.watcher_died

    @property
    def watcher_died(self) -> bool:
        watcher = self._watcher
        return (
            watcher is not None and watcher.done() and not watcher.cancelled()
            and watcher.exception() is not None
        )  # fmt: skip

    async def _await_health(self, process: asyncio.subprocess.Process) -> None:
        """Mark the process running once it answers; then watch that it keeps answering."""
        url = f"{self.options.local_base}/_stcore/health"
        while process.returncode is None:
            with contextlib.suppress(httpx.HTTPError):
                if (await self._http.get(url)).status_code == 200:
                    self._set_state(StreamlitState.RUNNING)
                    break
            await asyncio.sleep(HEALTH_POLL_SECONDS)
        failures, healthy_since = 0, time.monotonic()
        while process.returncode is None:
            await asyncio.sleep(HANG_CHECK_SECONDS)
            try:
                answered = (
                    await self._http.get(url, timeout=HANG_TIMEOUT_SECONDS)
                ).status_code == 200
            except httpx.HTTPError:
                answered = False
            failures = 0 if answered else failures + 1
            if answered and time.monotonic() - healthy_since > STABLE_AFTER_SECONDS:
                self.record.hang_restarts = 0
            if failures >= HANG_FAILURES and process.returncode is None:
                self.record.hang_restarts += 1
                logger.error(
                    "streamlit stopped answering its health check for %.0f s; killing it",
                    failures * HANG_CHECK_SECONDS,
                )
                _signal_group(process.pid, signal.SIGKILL)  # _watch restarts it
                return

    async def wait_running(self, timeout: float) -> bool:
        """Wait until Streamlit answers its health check (woken the moment it does)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._running.wait(), timeout)
        return self.state is StreamlitState.RUNNING

    async def healthy(self) -> bool:
        """Ask Streamlit itself, not our cached state."""
        try:
            response = await self._http.get(
                f"{self.options.local_base}/_stcore/health", timeout=1.0
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    # -- sessions and reruns ------------------------------------------------------------

    async def session_metrics(self) -> tuple[int, int] | None:
        """(active sessions, connects so far) from Streamlit's metrics, None if unreachable."""
        try:
            response = await self._http.get(
                f"{self.options.local_base}/_stcore/metrics", timeout=1.0
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        active: int | None = None
        connects = 0
        for name, value in _METRIC.findall(response.text):
            if name == "active_sessions":
                active = int(value)
            else:
                connects += int(value)
        if active is None:  # another Streamlit release's metrics: unknown, never "nobody"
            return None
        return active, connects

    async def clear_caches(
        self, *, resources: bool, timeout: float = CLEAR_TIMEOUT_SECONDS
    ) -> bool:
        """Drop every `st.cache_data` entry (and `st.cache_resource` with `resources`) inside
        the running Streamlit; True once it says it did. False when nothing runs, or it did
        not answer within `timeout` (the sync goes on: a stale cache beats a stuck sync)."""
        launcher = self._launcher
        if launcher is None or self.pid is None:
            return False
        answer = await launcher.ask(f"clear {'all' if resources else 'data'}", timeout=timeout)
        if answer != "ok":
            logger.warning("streamlit did not clear its caches: %s", answer or "no answer")
        return answer == "ok"

    async def settle(self, timeout: float = SETTLE_TIMEOUT_SECONDS) -> None:
        """Return once the open tabs' rerun has run (or none started soon): asked of the hook
        in the Streamlit process; at most `timeout`."""
        launcher = self._launcher
        if launcher is not None and self.pid is not None:
            await launcher.ask("settle", timeout=timeout)

    def force_rerun(self) -> None:
        """Rerun every open session by rewriting the user config file Streamlit polls."""
        self._rerun_counter += 1
        self._write_user_config()

    def _write_user_config(self) -> None:
        folder = self.options.home / ".streamlit"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "config.toml.tmp"
        tmp.write_text(
            "# Written by streamlit-preview; rewritten to make Streamlit rerun open sessions.\n"
            f"# rerun {self._rerun_counter} {time.time():.6f}\n"
        )
        os.replace(tmp, folder / "config.toml")

    async def viewers(self) -> int | None:
        """Open tabs: Streamlit's own count, else connections from anyone but us, else None.

        None means unknown, never "nobody is looking"; so is zero while the tabs of the
        process this one replaced may still be reconnecting.
        """
        count = await self._sessions_from_the_hook()
        if count is None:
            metrics = await self.session_metrics()
            if metrics is not None:
                count = metrics[0]
            else:
                peers = self._peers()
                count = None if peers is None else len(peers)
        reconnecting = (
            self._tabs_may_return
            and time.monotonic() - self.record.started_at < RECONNECT_FAST_SECONDS
        )
        return None if count == 0 and reconnecting else count

    async def _sessions_from_the_hook(self) -> int | None:
        """Streamlit's own count of open sessions, asked of the hook inside its process (no
        HTTP request for Streamlit to serve); None where the hook cannot tell."""
        launcher = self._launcher
        if launcher is None or self.pid is None:
            return None
        answer = await launcher.ask("sessions", timeout=SESSIONS_TIMEOUT_SECONDS)
        return int(answer) if answer and answer.isdigit() else None

    def _peers(self) -> frozenset[Peer] | None:
        pid = self.pid
        return None if pid is None else connected_peers(pid, self.options.port)

    async def rerun_on_reconnect(self, window: float = RECONNECT_WINDOW_SECONDS) -> None:
        """After a restart, rerun each time tabs (re)connect: a reconnected tab does not
        re-render by itself, and until its session has run the script once Streamlit ignores
        changes to it. The rerun also delivers the new Streamlit version, so a tab whose
        frontend it made stale reloads itself.

        Connections are counted by Streamlit's metrics where it publishes them, else by the
        kernel's list of its TCP connections (older releases).
        """
        process = self._process  # the watch ends with this process (a newer restart watches anew)
        started = time.monotonic()
        seen_connects = 0
        seen_peers: set[Peer] = set()
        while time.monotonic() - started < window and self._process is process and self.pid:
            metrics = await self.session_metrics()
            if metrics is not None:
                grew, seen_connects = metrics[1] > seen_connects, max(seen_connects, metrics[1])
            else:
                peers = self._peers()
                if peers is None:
                    return  # neither Streamlit nor the system says who connects
                grew = not peers <= seen_peers
                seen_peers |= peers
            if grew:
                await asyncio.sleep(RECONNECT_SETTLE_SECONDS)  # let the session attach
                self.force_rerun()
            fast = time.monotonic() - started < RECONNECT_FAST_SECONDS
            await asyncio.sleep(0.1 if fast else 0.5)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
