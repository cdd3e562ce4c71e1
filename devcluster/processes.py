"""Helpers for the processes the development cluster starts."""

from __future__ import annotations

import ctypes
import signal
import socket


def die_with_parent() -> None:
    """preexec_fn: a process started for a test run is killed if the run itself is killed."""
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
