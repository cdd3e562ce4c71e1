"""The reloader's `/status` document, typed: written by `reloader/service.py`, read by both
backends, the webhook receiver and the page wait. JSON from the wire is cast to it at the one
place that reads it (`as_status`)."""

from __future__ import annotations

from typing import Any, TypedDict, cast


class StreamlitStatus(TypedDict):
    state: str  # starting | running | crashed | stopped
    pid: int | None
    restarts: int
    port: int


class PageError(TypedDict):
    type: str
    file: str | None
    line: int | None
    message: str | None  # the signed detail only


class PageStatus(TypedDict):
    state: str  # ok | app_error | not_checked | checking
    error: PageError | None
    errors: int
    title: str | None
    note: str | None
    checked_commit: str | None
    checked_at: str | None


class SetupStatus(TypedDict):
    state: str  # not run | running | succeeded | failed
    exit_code: int | None
    duration_s: float | None
    tail: list[str] | None  # the signed detail only


class ActivityStatus(TypedDict):
    viewers: int | None  # open tabs at the last count (None: unknown)
    active_at: str  # the last moment a tab was open, a commit came, or the reloader started


class ReloaderStatus(TypedDict):
    commit: str | None
    branch: str
    app: str
    repo: str
    synced_at: str | None
    phase: str
    fetches: int
    syncs: int
    last_error: str | None
    requirements: bool
    setup: SetupStatus | None
    page: PageStatus
    notes: list[str]
    versions: dict[str, str | None]
    activity: ActivityStatus
    streamlit: StreamlitStatus


def as_status(data: Any) -> ReloaderStatus | None:
    """A `/status` answer as the typed document; None when it is not one (a proxy's error
    page, an older reloader's answer without the fields)."""
    if not isinstance(data, dict) or "streamlit" not in data or "page" not in data:
        return None
    return cast(ReloaderStatus, data)
