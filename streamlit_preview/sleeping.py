"""When a preview sleeps: no open tab and no commit for its `sleep-after`. Pure, no I/O: the
receiver reads each reloader's `/status` (`activity`) and carries the decision out.

A count of tabs that is unknown (None) never puts a preview to sleep: only a reloader that
says nobody is looking does. Nor does the first minute after a visit reached the waker: that
visitor is waiting for the page, and their tab connects only once the preview serves.
"""

from __future__ import annotations

from datetime import datetime

from .environment import parse_time

ANNOTATION_SLEEP_AFTER = "streamlit-preview.dev/sleep-after"  # seconds, or "never"
ANNOTATION_SLEEPING_SINCE = "streamlit-preview.dev/sleeping-since"
WAKE_PATH = "/wake/{namespace}/{environment}"  # the receiver's waker, behind the router
WAKE_GRACE_SECONDS = 60.0  # after a visit to the waker, however short the sleep-after


def should_sleep(
    *, now: datetime, sleep_after: int | None, viewers: int | None, active_at: str | None,
    waited_at: datetime | None = None,
) -> bool:  # fmt: skip
    """`waited_at`: when a visitor last reached the waker for this preview (None: never)."""
    if sleep_after is None or viewers is None or viewers > 0:
        return False
    if waited_at is not None and (now - waited_at).total_seconds() < WAKE_GRACE_SECONDS:
        return False
    last = parse_time(active_at)
    return last is not None and (now - last).total_seconds() >= sleep_after


def parse_sleep_after(text: str | None) -> int | None:
    """The annotation's value: seconds, or None for `never` (and for anything unreadable)."""
    return int(text) if text and text.isdigit() and int(text) > 0 else None


WAKING_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Waking the preview…</title>
<style>body{{font-family:system-ui,sans-serif;margin:20vh auto;max-width:32rem;color:#31333f}}</style>
</head><body>
<h1>Waking the preview…</h1>
<p>{environment} was asleep after a while without visitors. It is starting again at its
branch's latest commit; this page reloads itself as soon as it serves.</p>
<script>
// Ask again every 300 ms; reload as soon as the preview answers (no more 503).
(function poll() {{
  fetch(location.href, {{cache: "no-store", credentials: "include", redirect: "manual"}})
    .then(function (r) {{ if (r.status !== 503) location.reload(); else setTimeout(poll, 300); }})
    .catch(function () {{ setTimeout(poll, 500); }});
}})();
</script>
</body></html>
"""
