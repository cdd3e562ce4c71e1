"""`streamlit-preview hook`: a GitHub webhook receiver, so a push reaches its previews in about
a second instead of after a workflow job.

`POST /` takes GitHub's deliveries; `GET /healthz` answers 200. A `push` syncs every preview of
that repository and branch to the pushed commit with the same signed `/sync` the action uses,
and answers 202 with them once they are synced (200 and an empty list when none match). The
signature is checked, in constant time, before anything is parsed. The workflow keeps opening,
reporting and closing previews, and keeps syncing as the fallback: a second sync of the same
commit changes nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .backends.base import Backend, Environment
from .bodies import read_limited
from .errors import PreviewError, ServiceError
from .github import AppInstallationTokens, GitHub
from .naming import same_repository
from .webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    BadDelivery,
    Deliveries,
    Push,
    parse_delivery,
    verify_delivery,
)

logger = logging.getLogger(__name__)
USER_HEADER = "X-Auth-Request-User"  # set by oauth2-proxy, copied by Traefik (authResponseHeaders)
ACCESS_CACHE_SECONDS = 300
NOTE_HEADER = "X-Preview-Note"  # why nothing was synced, when that is not obvious


@dataclass
class Receiver:
    """What the endpoints need: the secret, the backend, and the deliveries seen."""

    secret: bytes
    backend: Backend
    git_token_file: Path | None = None
    app_tokens: AppInstallationTokens | None = None  # a GitHub App's, minted when needed
    api_url: str = "https://api.github.com"
    deliveries: Deliveries = field(default_factory=Deliveries)
    _access: dict[tuple[str, str], tuple[bool, float]] = field(default_factory=dict)

    def git_token(self) -> str | None:
        """The lasting credential: a GitHub App's installation token (minted when the last
        one nears its end), or the token file, read at each delivery so a rotated token is
        picked up without a restart."""
        if self.app_tokens is not None:
            return self.app_tokens.token()
        if self.git_token_file is None:
            return None
        return self.git_token_file.read_text().strip() or None

    def can_read(self, repository: str, login: str) -> bool:
        """GitHub's answer, with the receiver's lasting credential, kept for five minutes."""
        key, now = (repository.lower(), login.lower()), time.monotonic()
        cached = self._access.get(key)
        if cached and now - cached[1] < ACCESS_CACHE_SECONDS:
            return cached[0]
        token = self.git_token()
        if token is None:
            raise ServiceError(
                "no lasting credential (--git-token-file or a GitHub App) to ask GitHub with"
            )
        allowed = GitHub(token=token, repository=repository, api_url=self.api_url).can_read(login)
        self._access[key] = (allowed, now)
        return allowed

    def matching(self, push: Push) -> list[Environment]:
        return [
            env for env in self.backend.list()
            if env.branch == push.branch and env.repository
            and any(same_repository(env.repository, name) for name in push.repositories)
        ]  # fmt: skip

    def apply(self, push: Push) -> tuple[int, list[dict[str, Any]], str | None]:
        """Sync each matching preview: (status, one entry per matching preview, a note).

        Each entry names the environment and says `synced` (with the commit, `changed`,
        `restarted`), `skipped` (with the reason) or `failed` (with the error)."""
        if push.deleted or push.branch is None:
            return 200, [], "a deleted branch or a tag: nothing to sync"
        found = self.matching(push)
        if not found:
            return 200, [], None
        note = None
        needs_token = any(env.private and not env.pinned for env in found)
        try:
            token = self.git_token() if needs_token else None
        except PreviewError as exc:  # the credential could not be had: say so, sync the public ones
            logger.warning("%s", exc)
            note, token = f"no lasting credential for private repositories: {exc}", None
        entries = [self._apply_one(env, push.after, token) for env in found]
        synced = [e for e in entries if e["status"] == "synced"]
        if not synced and any(e["status"] == "failed" for e in entries):
            return 502, entries, note
        return (202 if synced else 200), entries, note

    def _apply_one(self, env: Environment, sha: str, token: str | None) -> dict[str, Any]:
        name = env.environment
        if env.pinned:
            return {"environment": name, "status": "skipped",
                    "reason": "pinned to an approved commit (a fork's preview): a push never moves it"}  # fmt: skip
        if env.private and token is None:
            return {"environment": name, "status": "skipped", "reason":
                    "private repository and no lasting credential (--git-token-file or a GitHub App): "
                    "left to the workflow's sync"}  # fmt: skip
        try:
            result = self.backend.sync_to(env, sha=sha, git_token=token)
        except PreviewError as exc:
            logger.warning("%s: %s", name, exc)
            return {"environment": name, "status": "failed", "error": str(exc)}
        return {"environment": name, "status": "synced", "commit": result.get("commit"),
                "changed": result.get("changed"), "restarted": result.get("restarted")}  # fmt: skip


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(receiver: Receiver) -> Starlette:
    async def deliver(request: Request) -> Response:
        body = await read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return _error(413, f"the body is over {MAX_BODY_BYTES // (1024 * 1024)} MB")
        if not verify_delivery(receiver.secret, body, request.headers.get(SIGNATURE_HEADER)):
            return _error(401, f"missing or wrong {SIGNATURE_HEADER}")
        event = request.headers.get(EVENT_HEADER, "")
        if event not in ("push", "ping"):
            return Response(status_code=204)
        try:
            push = parse_delivery(event, body)
        except BadDelivery as exc:
            return _error(400, str(exc))
        if push is None:  # ping
            return JSONResponse({"pong": True})
        delivery = request.headers.get(DELIVERY_HEADER, "")
        if not receiver.deliveries.first_time(delivery):
            return JSONResponse(
                [], headers={NOTE_HEADER: f"delivery {delivery} was already applied"}
            )
        status, entries, note = await run_in_threadpool(receiver.apply, push)
        return JSONResponse(
            entries, status_code=status, headers={NOTE_HEADER: note} if note else None
        )

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def collaborators(request: Request) -> Response:
        """Traefik's ForwardAuth for `access: collaborators`, after oauth2-proxy signed the
        user in: may this GitHub user read the repository? (200 or 403)."""
        login = request.headers.get(USER_HEADER, "").strip()
        if not login:
            return PlainTextResponse("not signed in", status_code=401)
        repository = f"{request.path_params['owner']}/{request.path_params['repo']}"
        try:
            allowed = await run_in_threadpool(receiver.can_read, repository, login)
        except PreviewError as exc:
            logger.warning("access check of %s on %s: %s", login, repository, exc)
            return PlainTextResponse("the access check failed", status_code=403)
        return PlainTextResponse(
            "ok" if allowed else "not a collaborator", status_code=200 if allowed else 403
        )

    return Starlette(routes=[
        Route("/", deliver, methods=["POST"]), Route("/healthz", healthz),
        Route("/access/collaborators/{owner}/{repo}", collaborators, methods=["GET"]),
    ])  # fmt: skip


def serve(receiver: Receiver, *, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(receiver), host=host, port=port, log_level="warning")
