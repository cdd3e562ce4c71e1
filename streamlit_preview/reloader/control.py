"""The control port: `/sync`, `/status`, `/healthz`, `/readyz` as plain Starlette endpoints.

`/sync` checks the signature over the raw body before parsing anything (`check_sync_request`,
pure), and answers only when the sync is done. This module holds no sync logic; it translates
HTTP to `Reloader`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..bodies import read_limited
from ..errors import SyncError, UnknownCommitError
from ..signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    is_commit_sha,
    is_fresh,
    verify_signature,
    verify_status_request,
)
from .service import Reloader

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True)
class SyncRequest:
    """A `/sync` body that passed every check: the commit to reach (None: the branch head) and
    a fresh clone token, if the caller sent one."""

    sha: str | None
    git_token: str | None


@dataclass(frozen=True)
class Refusal:
    """Why a `/sync` was refused before the reloader was asked, as HTTP says it."""

    status: int
    message: str
    logged: bool = False  # a signature or replay failure: worth a warning with the client


def check_sync_request(
    secret: bytes, body: bytes | None, signature: str | None
) -> SyncRequest | Refusal:
    """The `/sync` body, checked in order: size, signature over the raw bytes, JSON, freshness,
    then its fields. No I/O."""
    if body is None:
        return Refusal(413, f"body larger than {MAX_BODY_BYTES} bytes")
    if not verify_signature(secret, body, signature):
        return Refusal(401, f"missing or wrong {SIGNATURE_HEADER}", logged=True)
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        payload = None
    if not isinstance(payload, dict):
        return Refusal(400, "body: expected a JSON object")
    if not is_fresh(payload.get("timestamp")):
        return Refusal(401, "timestamp: missing or more than 300 s away from now", logged=True)
    sha = payload.get("sha")
    if sha is not None and not is_commit_sha(sha):
        return Refusal(400, "sha: expected a 40-character hex commit id")
    git_token = payload.get("git_token")
    if git_token is not None and (not isinstance(git_token, str) or not git_token.strip()):
        return Refusal(400, "git_token: expected a non-empty string")
    return SyncRequest(sha, git_token)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class ControlEndpoints:
    """The four endpoints over one reloader; each only maps the reloader to HTTP."""

    def __init__(self, reloader: Reloader) -> None:
        self.reloader = reloader

    async def sync(self, request: Request) -> Response:
        body = await read_limited(request, MAX_BODY_BYTES)
        secret = self.reloader.settings.webhook_secret
        checked = check_sync_request(secret, body, request.headers.get(SIGNATURE_HEADER))
        if isinstance(checked, Refusal):
            if checked.logged:
                logger.warning("rejected /sync from %s: %s", _client(request), checked.message)
            return _error(checked.status, checked.message)
        try:
            outcome, duration_ms = await self.reloader.sync(
                checked.sha, git_token=checked.git_token
            )
        except UnknownCommitError as exc:
            return _error(409, str(exc))
        except SyncError as exc:  # the reloader keeps it as its `last_error`
            return _error(503, str(exc))
        return JSONResponse(
            {
                "commit": outcome.commit,
                "previous": outcome.previous,
                "changed": outcome.changed,
                "restarted": outcome.restarted,
                "duration_ms": round(duration_ms),
                "phases_ms": dict(outcome.phases),
            }
        )

    async def status(self, request: Request) -> Response:
        if request.query_params.get("detail") not in ("1", "true"):
            return JSONResponse(self.reloader.status())
        signed = verify_status_request(
            self.reloader.settings.webhook_secret,
            request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER),
        )  # fmt: skip
        if not signed:
            return _error(401, "the detail needs a fresh signature")
        return JSONResponse(self.reloader.status(detail=True))

    async def healthz(self, request: Request) -> Response:
        supervisor = self.reloader.supervisor
        if supervisor.watcher_died:
            return PlainTextResponse("the loop that watches streamlit has died", status_code=503)
        if supervisor.unhealthy:
            return PlainTextResponse("streamlit keeps hanging after restarts", status_code=503)
        return PlainTextResponse("ok")

    async def readyz(self, request: Request) -> Response:
        if await self.reloader.ready():
            return PlainTextResponse("ready")
        return PlainTextResponse("not ready", status_code=503)


def build_app(
    reloader: Reloader, *, on_startup: Callable[[], Awaitable[None]] | None = None
) -> Starlette:
    """The control application; its lifespan runs `on_startup` and closes the reloader."""
    endpoints = ControlEndpoints(reloader)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        try:
            yield
        finally:
            await reloader.close()

    routes = [
        Route("/sync", endpoints.sync, methods=["POST"]),
        Route("/status", endpoints.status, methods=["GET"]),
        Route("/healthz", endpoints.healthz, methods=["GET"]),
        Route("/readyz", endpoints.readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
