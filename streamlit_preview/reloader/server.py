"""The reloader's pieces and its HTTP server, wired once Streamlit's launcher is on its way.

If the bootstrap task dies, the server is told to stop and the process exits non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import uvicorn

from ..errors import EXIT_FAILURE
from . import contract
from .config import ReloaderSettings
from .control import build_app
from .deps import AppEnvironment
from .launcher import Launcher
from .options import StreamlitOptions
from .service import Reloader
from .supervisor import Supervisor

logger = logging.getLogger("streamlit_preview.reloader")
SHUTDOWN_GRACE_SECONDS = 3


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its shutdown; we stop on it and exit 0 instead."""

    _exit_requested: asyncio.Event | None = None

    async def main_loop(self) -> None:
        """uvicorn's own loop wakes ten times a second to notice a shutdown: a third of an
        idle preview's CPU. This one wakes at once when asked to exit, and otherwise once a
        second, which is all its Date header needs."""
        self._exit_requested = asyncio.Event()
        while not await self.on_tick(0):  # tick 0: the Date header is refreshed each time
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), 1.0)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.wake()

    def wake(self) -> None:
        """Make the main loop look at `should_exit` now."""
        if self._exit_requested is not None:
            self._exit_requested.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def report_termination(message: str) -> None:
    """Leave the reason we stop where the kubelet (or the local backend) reads it.

    Kubernetes shows the file at terminationMessagePath (/dev/termination-log) as the
    container's `terminated.message`; the contract's `termination_log` moves it.
    """
    path = Path(contract.read(os.environ, "termination_log") or "/dev/termination-log")
    if path.parent.is_dir():
        with contextlib.suppress(OSError):
            path.write_text(message[:4000] + "\n")


async def run(
    settings: ReloaderSettings,
    environment: AppEnvironment,
    options: StreamlitOptions,
    launcher: Launcher | None,
) -> int:
    """Serve the control endpoints while the bootstrap clones, installs and starts Streamlit."""
    reloader = Reloader(
        settings, supervisor=Supervisor(options, prewarmed=launcher), environment=environment
    )
    failed = False

    async def start_bootstrap() -> None:
        task = asyncio.create_task(reloader.bootstrap())

        def finished(task: asyncio.Task[None]) -> None:
            nonlocal failed
            if not task.cancelled() and task.exception() is not None:
                logger.error("error: %s", task.exception())
                report_termination(str(task.exception()))
                failed = True
                server.should_exit = True
                server.wake()

        task.add_done_callback(finished)
        reloader._background.add(task)
        reloader._background.add(asyncio.create_task(reloader.watch_activity()))

    app = build_app(reloader, on_startup=start_bootstrap)
    config = uvicorn.Config(
        app, host=settings.bind, port=settings.control_port, log_level="warning",
        access_log=False, timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS, lifespan="on",
    )  # fmt: skip
    server = _Server(config)
    logger.info(
        "control on %s:%s, streamlit on port %s, following %s",
        settings.bind, settings.control_port, settings.streamlit_port, settings.branch,
    )  # fmt: skip
    await server.serve()
    if failed or not server.started:
        return EXIT_FAILURE
    return 0
