"""Lines of a child's output, whatever it prints: read in chunks, never by `readline`.

`asyncio.StreamReader.readline` gives up on a line over its 64 KiB limit, and the loop reading
it dies; the pipe then fills and the child blocks on its next print, for good. Here a line
of any length is cut to `MAX_LINE` characters (the rest is dropped, and said so), a carriage
return (a progress bar redrawing itself) ends a line like a newline, and the pipe is always
drained.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

CHUNK = 64 * 1024
MAX_LINE = 4096
CUT = " […]"


async def output_lines(
    stream: asyncio.StreamReader, *, max_line: int = MAX_LINE
) -> AsyncIterator[str]:
    """Each line of `stream` (decoded, without its ending), at most `max_line` characters."""
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
            yield _text(line, max_line)
        if len(pending) > max_line and not cut:
            yield _text(bytes(pending[:max_line]), max_line) + CUT
            pending.clear()
            cut = True
        elif cut:
            pending.clear()
    if pending and not cut:
        yield _text(bytes(pending), max_line)


def _text(raw: bytes, max_line: int) -> str:
    text = raw.decode(errors="replace").rstrip()
    return text if len(text) <= max_line else text[:max_line] + CUT
