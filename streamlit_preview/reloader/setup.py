"""The app's `setup` command: runs in the checkout after requirements, before Streamlit.

A typical one downloads the full data set into `$PREVIEW_DATA_DIR`. It runs again on a sync
that changes a file matching a `setup-watch` glob. A failure is reported (exit code and the
tail of its output) but does not stop the preview: Streamlit still starts, so the author sees
the app's own error too.
"""

from __future__ import annotations

import asyncio
import collections
import fnmatch
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ..statusdoc import SetupStatus
from .lines import output_lines

logger = logging.getLogger(__name__)
TAIL_LINES = 20
SETUP_TIMEOUT_SECONDS = 3600


class SetupState(StrEnum):
    """The last `setup` run, as `/status` reports it (`setup.state`)."""

    NOT_RUN = "not run"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class SetupRun:
    """What `/status` shows of the last run; `run_setup` alone changes it."""

    state: SetupState = SetupState.NOT_RUN
    exit_code: int | None = None
    duration_s: float | None = None
    tail: list[str] = field(default_factory=list)

    def as_dict(self) -> SetupStatus:
        return {"state": self.state, "exit_code": self.exit_code, "duration_s": self.duration_s,
                "tail": self.tail}  # fmt: skip

    @property
    def error(self) -> str | None:
        if self.state is not SetupState.FAILED:
            return None
        last = next((line for line in reversed(self.tail) if line.strip()), "")
        return f"setup exited with {self.exit_code}" + (f": {last.strip()}" if last else "")


def watched(changed: tuple[str, ...], globs: tuple[str, ...]) -> bool:
    """Whether a changed path matches one of the `setup-watch` globs."""
    return any(fnmatch.fnmatch(path, glob) for path in changed for glob in globs)


async def run_setup(
    command: str, *, cwd: Path, env: dict[str, str], run: SetupRun,
    redact: Callable[[str], str] = lambda text: text,
) -> None:  # fmt: skip
    """Run `command` with `sh -c`, keeping the tail of its output in `run` as it goes."""
    started = time.monotonic()
    run.state, run.exit_code, run.duration_s, run.tail = SetupState.RUNNING, None, None, []
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    process = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        async with asyncio.timeout(SETUP_TIMEOUT_SECONDS):
            async for line in output_lines(process.stdout, redact=redact):
                tail.append(line)
                run.tail = list(tail)
                logger.info("[setup] %s", line)
            code = await process.wait()
    except TimeoutError:
        process.kill()
        code = await process.wait()
        tail.append(f"(stopped after {SETUP_TIMEOUT_SECONDS} s)")
    run.tail = list(tail)
    run.exit_code = code
    run.duration_s = round(time.monotonic() - started, 2)
    run.state = SetupState.SUCCEEDED if code == 0 else SetupState.FAILED
    logger.log(logging.INFO if code == 0 else logging.ERROR, "setup %s in %.1f s (exit %s)",
               run.state, run.duration_s, code)  # fmt: skip
