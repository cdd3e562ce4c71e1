"""Telling a process we started from another that reuses its PID."""

from __future__ import annotations

from pathlib import Path


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat, the kernel's start time: with the PID it names one process.

    None when no such process lives (a zombie is dead).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]
