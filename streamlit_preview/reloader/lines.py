"""Lines of a child's output, whatever it prints: read in chunks, never by `readline`.

`asyncio.StreamReader.readline` gives up on a line over its 64 KiB limit, and the loop reading
it dies; the pipe then fills and the child blocks on its next print, for good. Here a line
of any length is cut to `MAX_LINE` characters (the rest is dropped, and said so), a carriage
return (a progress bar redrawing itself) ends a line like a newline, and the pipe is always
drained.

Secrets are redacted before a line is cut, over `LOOKAHEAD` more characters than are kept: a
secret that straddles the cut is masked whole, never left half visible.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

CHUNK = 64 * 1024
MAX_LINE = 4096
LOOKAHEAD = 4096  # secrets up to this long are masked whole where a line is cut
CUT = " […]"


def _unchanged(text: str) -> str:
    return text


async def output_lines(
    stream: asyncio.StreamReader,
    *,
    max_line: int = MAX_LINE,
    redact: Callable[[str], str] = _unchanged,
) -> AsyncIterator[str]:
    """Each line of `stream` (decoded, without its ending, redacted), at most `max_line`
    characters."""
    window = max_line + LOOKAHEAD
    pending = bytearray()
    cut = False  # the current line went over max_line: drop its rest
    while True:
        chunk = await stream.read(CHUNK)
        if not chunk:
            break
        pending += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        while True:
            end = pending.find(b"\n")
            if end < 0:
                break
            line, pending = bytes(pending[:end]), pending[end + 1 :]
            if cut:
                cut = False
                continue
            yield _text(line, max_line, redact)
        if len(pending) > window and not cut:
            yield _text(bytes(pending[:window]), max_line, redact, cut=True)
            pending.clear()
            cut = True
        elif cut:
            pending.clear()
    if pending and not cut:
        yield _text(bytes(pending), max_line, redact)


def _text(raw: bytes, max_line: int, redact: Callable[[str], str], *, cut: bool = False) -> str:
    text = redact(raw.decode(errors="replace").rstrip())
    return text if len(text) <= max_line and not cut else text[:max_line] + CUT
