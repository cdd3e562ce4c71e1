"""What both backends share: the progress line of a sync, a failed setup, and the wait for
the reloader's look at the page. The interface itself is `environment.Backend`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from ..environment import Environment, Status
from ..errors import SetupError
from ..statusdoc import PageError, PageStatus, ReloaderStatus


def describe_sync(environment: str, answer: dict[str, object]) -> str:
    """The progress line for a reloader's `/sync` answer."""
    state = "changed" if answer.get("changed") else "already there"
    return f"{environment} at {str(answer['commit'])[:12]} ({state})"


def raise_if_setup_failed(environment: str, status: ReloaderStatus | None, url: str | None) -> None:
    """A failed `setup` fails the command, with its exit code and output's tail; the preview
    itself keeps running (Streamlit starts anyway, so the author sees the app's own error)."""
    setup = status.get("setup") if status else None
    if not setup or setup.get("state") != "failed":
        return
    tail = " | ".join(line for line in (setup.get("tail") or [])[-5:] if line.strip())
    raise SetupError(
        f"{environment}: setup exited with {setup.get('exit_code')}"
        + (f": {tail}" if tail else "")
        + (f" (the preview runs anyway at {url})" if url else "")
    )


PAGE_POLL_SECONDS = 0.2


def wait_for_page(
    fetch_detail: Callable[[], ReloaderStatus | None], commit: str | None, *, timeout: float
) -> PageStatus | None:
    """The reloader's look at the page of `commit` (its signed `/status?detail=1` `page`), once
    it is done; None when the check is off or did not finish within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        status = fetch_detail()
        page = status["page"] if status else None
        if (
            status
            and page
            and page.get("state") == "not_checked"
            and status.get("commit") == commit
        ):
            return None
        if page and page.get("checked_commit") and page.get("checked_commit") == commit:
            return page
        if time.monotonic() > deadline:
            return None
        time.sleep(PAGE_POLL_SECONDS)


def with_page(environment: Environment, page: PageStatus | None) -> Environment:
    """The environment as the page check saw it: `app error` with its one line, or the title."""
    if not page:
        return environment
    error = page.get("error")
    if page.get("state") == "app_error" and error:
        return replace(environment, status=Status.APP_ERROR, app_error=describe_app_error(error),
                       page_title=page.get("title"))  # fmt: skip
    return replace(environment, page_title=page.get("title"))


def describe_app_error(error: PageError) -> str:
    """`app error at streamlit_app.py:3: NameError: name 'x' is not defined`"""
    file, line = error.get("file"), error.get("line")
    where = f" at {file}:{line}" if file and line else (f" in {file}" if file else "")
    message = (error.get("message") or "").strip().splitlines()
    return f"app error{where}: {error.get('type')}" + (f": {message[0]}" if message else "")
