"""The interface `lifecycle` needs from a place that runs environments.

A third backend (a VM over SSH, say) is one new module implementing these four verbs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from ..config import Settings
from ..errors import SetupError

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Environment:
    """What a user is told about one environment (`--json`, outputs, the PR comment)."""

    environment: str
    url: str | None
    commit: str | None
    status: str  # running | app error | starting | dead | damaged | closed | missing
    namespace: str | None = None
    branch: str | None = None
    pr: int | None = None
    repository: str | None = None
    expires_at: datetime | None = None  # from the `ttl` input (Kubernetes only)
    name: str | None = None  # the `name` input: one of several previews of the pull request
    access: str | None = None  # who may see it: `public`, `org:acme`, `team:acme/reviewers`
    access_note: str | None = None  # the same, said for the PR comment
    sign_in_url: str | None = None  # the cluster's shared sign-in, where there is one
    page_title: str | None = None  # the page's title, from the look after the open or sync
    app_error: str | None = None  # `app error at app.py:3: NameError: ...` (status "app error")
    pinned: bool = False  # a fork's approved commit: a push never moves it
    private: bool = False  # cloned with a token: a webhook sync needs a lasting one
    created_at: datetime | None = None  # when it was first opened (`list`: its age)
    synced_at: datetime | None = None  # when its reloader last synced (`list`)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("expires_at", "created_at", "synced_at"):
            value = getattr(self, key)
            data[key] = value.isoformat().replace("+00:00", "Z") if value else None
        return data


def parse_time(text: object) -> datetime | None:
    """An ISO 8601 time (`...Z` or with an offset) as an aware datetime; None if not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def describe_sync(environment: str, answer: dict[str, object]) -> str:
    """The progress line for a reloader's `/sync` answer."""
    state = "changed" if answer.get("changed") else "already there"
    return f"{environment} at {str(answer['commit'])[:12]} ({state})"


class Backend(Protocol):
    """Open, sync, close and list environments; every call is idempotent."""

    name: str

    def open(self, settings: Settings, *, progress: Progress) -> Environment:
        """Create or update the environment and wait until it serves."""

    def sync(self, settings: Settings, *, progress: Progress) -> Environment | None:
        """Bring the environment to the branch head (or `settings.target.sha`).

        None when there is no such environment: `lifecycle` then opens it.
        """

    def close(self, settings: Settings, *, progress: Progress) -> bool:
        """Delete everything of the environment; False when there was nothing to delete."""

    def list(self) -> list[Environment]:
        """Every environment this backend manages."""

    def sync_to(
        self, environment: Environment, *, sha: str, git_token: str | None = None
    ) -> dict[str, object]:
        """Sync a running environment to `sha` (the webhook receiver's path); the reloader's
        `/sync` answer. No rollout, no report: only the signed call."""

    def store_git_token(self, environment: Environment, token: str) -> None:
        """Keep a fresh clone token where the preview reads it when it starts again (the
        receiver's refresh: a pod rescheduled hours after its last workflow run)."""

    def settle(self, environment: Environment, *, commit: str, timeout: float) -> Environment:
        """`environment` at `commit` as its page check saw it (the receiver's report): the
        title, or `app error` with its line; unchanged when the check is off or late."""


def raise_if_setup_failed(environment: str, status: dict, url: str | None) -> None:
    """A failed `setup` fails the command, with its exit code and output's tail; the preview
    itself keeps running (Streamlit starts anyway, so the author sees the app's own error)."""
    setup = status.get("setup") or {}
    if setup.get("state") != "failed":
        return
    tail = " | ".join(line for line in (setup.get("tail") or [])[-5:] if line.strip())
    raise SetupError(
        f"{environment}: setup exited with {setup.get('exit_code')}"
        + (f": {tail}" if tail else "")
        + (f" (the preview runs anyway at {url})" if url else "")
    )


PAGE_POLL_SECONDS = 0.2


def wait_for_page(
    fetch_detail: Callable[[], dict], commit: str | None, *, timeout: float
) -> dict | None:
    """The reloader's look at the page of `commit` (its signed `/status?detail=1` `page`), once
    it is done; None when the check is off or did not finish within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        status = fetch_detail()
        page = status.get("page") or {}
        if page.get("state") == "not_checked" and status.get("commit") == commit:
            return None
        if page.get("checked_commit") and page.get("checked_commit") == commit:
            return page
        if time.monotonic() > deadline:
            return None
        time.sleep(PAGE_POLL_SECONDS)


def with_page(environment: Environment, page: dict | None) -> Environment:
    """The environment as the page check saw it: `app error` with its one line, or the title."""
    if not page:
        return environment
    if page.get("state") == "app_error" and page.get("error"):
        return replace(environment, status="app error", app_error=describe_app_error(page["error"]),
                       page_title=page.get("title"))  # fmt: skip
    return replace(environment, page_title=page.get("title"))


def describe_app_error(error: dict) -> str:
    """`app error at streamlit_app.py:3: NameError: name 'x' is not defined`"""
    file, line = error.get("file"), error.get("line")
    where = f" at {file}:{line}" if file and line else (f" in {file}" if file else "")
    message = (error.get("message") or "").strip().splitlines()
    return f"app error{where}: {error.get('type')}" + (f": {message[0]}" if message else "")
