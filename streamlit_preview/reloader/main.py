"""Wire the reloader once: settings, pieces, HTTP server. Exit 2 on bad input.

If the bootstrap task dies, the server is told to stop and the process exits non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn

from ..errors import EXIT_FAILURE, PreviewError
from ..processes import process_start_time
from .config import ReloaderSettings, child_environment, parse_settings
from .control import build_app
from .deps import AppEnvironment
from .service import Reloader
from .supervisor import StreamlitOptions, Supervisor

logger = logging.getLogger("streamlit_preview.reloader")
SHUTDOWN_GRACE_SECONDS = 3


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its shutdown; we stop on it and exit 0 instead."""

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
    container's `terminated.message`; PREVIEW_TERMINATION_LOG moves it.
    """
    path = Path(os.environ.get("PREVIEW_TERMINATION_LOG") or "/dev/termination-log")
    if path.parent.is_dir():
        with contextlib.suppress(OSError):
            path.write_text(message[:4000] + "\n")


def build_reloader(settings: ReloaderSettings, runtime: Path) -> Reloader:
    """The reloader with its runtime folder (Streamlit's HOME, dependency environments)."""
    env = child_environment(os.environ)
    options = StreamlitOptions(
        app=settings.app, cwd=settings.workdir, home=runtime / "home", bind=settings.bind,
        port=settings.streamlit_port, public_url=settings.public_url, env=env,
        secrets_file=settings.secrets_file,
    )  # fmt: skip
    return Reloader(
        settings,
        supervisor=Supervisor(options),
        environment=AppEnvironment(runtime / "app-env", env=env),
    )


RUNTIME_PREFIX = "streamlit-preview-"
OWNER_FILE = "reloader.owner"


def make_runtime_folder() -> Path:
    """Our runtime folder (Streamlit's HOME, the app environment), marked with who owns it."""
    runtime = Path(tempfile.mkdtemp(prefix=RUNTIME_PREFIX))
    (runtime / OWNER_FILE).write_text(f"{os.getpid()} {process_start_time(os.getpid()) or ''}\n")
    return runtime


def clean_abandoned_runtimes(temp: Path | None = None) -> None:
    """Remove the runtime folders of reloaders that were killed (their owner no longer runs).

    Only folders that carry our owner file are touched; a live reloader's is kept.
    """
    for folder in (temp or Path(tempfile.gettempdir())).glob(RUNTIME_PREFIX + "*"):
        owner = folder / OWNER_FILE
        try:
            pid_text, _, started = owner.read_text().strip().partition(" ")
        except OSError:
            continue
        if not pid_text.isdigit() or process_start_time(int(pid_text)) != (started or None):
            logger.info("removing %s, left by a reloader that no longer runs", folder)
            shutil.rmtree(folder, ignore_errors=True)


async def serve(settings: ReloaderSettings) -> int:
    clean_abandoned_runtimes()
    runtime = make_runtime_folder()
    reloader = build_reloader(settings, runtime)
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

        task.add_done_callback(finished)
        reloader._background.add(task)

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
    try:
        await server.serve()
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    if failed or not server.started:
        return EXIT_FAILURE
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s [reloader] %(message)s"
    )
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv, os.environ)
    except PreviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return asyncio.run(serve(settings))


if __name__ == "__main__":
    sys.exit(main())
