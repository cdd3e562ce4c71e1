"""A request body read up to a limit, for both HTTP servers (the reloader's control port and
the webhook receiver): a body over the limit is not read further than that."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol


class StreamingRequest(Protocol):
    """What a Starlette `Request` offers that this needs."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    def stream(self) -> AsyncIterator[bytes]: ...


async def read_limited(request: StreamingRequest, limit: int) -> bytes | None:
    """The body, or None when it is over `limit` bytes (declared or sent)."""
    declared = request.headers.get("content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
