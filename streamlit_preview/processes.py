"""Processes we start: telling one from another that reuses its PID, and tying their life to ours."""

from __future__ import annotations

import contextlib
import ctypes
import signal
from pathlib import Path

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat, the kernel's start time: with the PID it names one process.

    None when no such process lives (a zombie is dead).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the process that started it dies.

    SIGKILL, not SIGTERM: with the reloader gone, Streamlit's own SIGTERM handler writes
    "Stopping..." to a pipe nobody reads and the process lingers, holding its port.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
