"""Start the reloader: settings (exit 2 on bad input), then a head start for Streamlit, then
everything else.

Streamlit's launcher is spawned before the reloader imports its own server (uvicorn,
Starlette, httpx, GitPython: about 0.3 s), so both imports run at once on a cold start
instead of one after the other. See `launcher`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import PreviewError
from ..processes import process_start_time
from .config import ReloaderSettings, child_environment, parse_settings
from .deps import AppEnvironment
from .launcher import prewarm
from .options import StreamlitOptions

logger = logging.getLogger("streamlit_preview.reloader")


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


def streamlit_options(
    settings: ReloaderSettings, runtime: Path, environment: AppEnvironment, env: dict[str, str]
) -> StreamlitOptions:
    """How Streamlit runs: from the app environment, with its HOME in our runtime folder."""
    return StreamlitOptions(
        app=settings.app, cwd=settings.workdir, home=runtime / "home", bind=settings.bind,
        port=settings.streamlit_port, public_url=settings.public_url,
        env=env, secrets_file=settings.secrets_file,
        python=environment.python,
    )  # fmt: skip


async def serve(settings: ReloaderSettings) -> int:
    clean_abandoned_runtimes()
    runtime = make_runtime_folder()
    try:
        env = child_environment(os.environ)
        environment = AppEnvironment(runtime / "app-env", env=env)
        environment.create()
        options = streamlit_options(settings, runtime, environment, env)
        launcher = await prewarm(options)
        # Only now the heavy imports (see the module docstring).
        from .server import run

        return await run(settings, environment, options, launcher)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


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
