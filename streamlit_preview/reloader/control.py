"""The control port: `/sync`, `/status`, `/healthz`, `/readyz` as plain Starlette endpoints.

`/sync` checks the signature over the raw body before parsing anything, and answers only
when the sync is done. This module holds no sync logic; it translates HTTP to `Reloader`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def build_app(
    reloader: Reloader, *, on_startup: Callable[[], Awaitable[None]] | None = None
) -> Starlette:
    """The control application; its lifespan runs `on_startup` and closes the reloader."""

    async def sync(request: Request) -> Response:
        body = await read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
        secret = reloader.settings.webhook_secret
        if not verify_signature(secret, body, request.headers.get(SIGNATURE_HEADER)):
            logger.warning("rejected /sync from %s: bad or missing signature", _client(request))
            return _error(401, f"missing or wrong {SIGNATURE_HEADER}")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return _error(400, "body: expected a JSON object")
        if not isinstance(payload, dict):
            return _error(400, "body: expected a JSON object")
        if not is_fresh(payload.get("timestamp")):
            logger.warning("rejected /sync from %s: stale timestamp", _client(request))
            return _error(401, "timestamp: missing or more than 300 s away from now")
        sha = payload.get("sha")
        if sha is not None and not is_commit_sha(sha):
            return _error(400, "sha: expected a 40-character hex commit id")
        git_token = payload.get("git_token")
        if git_token is not None and (not isinstance(git_token, str) or not git_token.strip()):
            return _error(400, "git_token: expected a non-empty string")
        try:
            outcome, duration_ms = await reloader.sync(sha, git_token=git_token)
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

    async def status(request: Request) -> Response:
        if request.query_params.get("detail") in ("1", "true"):
            if not verify_status_request(
                reloader.settings.webhook_secret,
                request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER),
            ):  # fmt: skip
                return _error(401, "the detail needs a fresh signature")
            return JSONResponse(reloader.status(detail=True))
        return JSONResponse(reloader.status())

    async def healthz(request: Request) -> Response:
        if reloader.supervisor.watcher_died:
            return PlainTextResponse("the loop that watches streamlit has died", status_code=503)
        if reloader.supervisor.unhealthy:
            return PlainTextResponse("streamlit keeps hanging after restarts", status_code=503)
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        if await reloader.ready():
            return PlainTextResponse("ready")
        return PlainTextResponse("not ready", status_code=503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        try:
            yield
        finally:
            await reloader.close()

    routes = [
        Route("/sync", sync, methods=["POST"]),
        Route("/status", status, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
