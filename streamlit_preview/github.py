"""Reporting to the pull request: one sticky comment and GitHub Deployments (httpx).

The only module that calls GitHub. Retries 5xx, rate limits and connection errors with
backoff (tenacity), honouring `Retry-After`; follows `Link` pagination; the API URL comes from
`GITHUB_API_URL`, so GitHub Enterprise works. Errors become `ServiceError` here.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import httpx
import tenacity

from .errors import ServiceError
from .redact import code_block, tail

logger = logging.getLogger(__name__)

MARKER = "<!-- streamlit-preview:{environment} -->"
API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 30
MAX_ATTEMPTS = 5
MAX_WAIT_SECONDS = 60
MAX_PAGES = 50  # 5,000 items: far beyond any pull request's comments


class _Retryable(Exception):
    def __init__(self, response: httpx.Response | None, reason: str) -> None:
        super().__init__(reason)
        self.response = response


def _wait(retry_state: tenacity.RetryCallState) -> float:
    """Retry-After or the rate-limit reset when GitHub says so, else exponential backoff."""
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    response = getattr(exc, "response", None)
    if response is not None:
        if response.headers.get("retry-after", "").isdigit():
            return min(float(response.headers["retry-after"]), MAX_WAIT_SECONDS)
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = float(response.headers.get("x-ratelimit-reset", "0") or 0)
            return min(max(reset - time.time(), 1.0), MAX_WAIT_SECONDS)
    return min(0.5 * 2 ** (retry_state.attempt_number - 1), MAX_WAIT_SECONDS)


class CommentState(StrEnum):
    """The comment's states, each with its icon and the Deployment status it sets."""

    BUILDING = "building"
    READY = "ready"
    APP_ERROR = "app error"
    FAILED = "failed"
    CLOSED = "closed"
    WAITING = "waiting for approval"
    SLEEPING = "sleeping; wakes on the next visit"

    @property
    def icon(self) -> str:
        return _ICONS[self]

    @property
    def deployment_status(self) -> str | None:
        return _DEPLOYMENT_STATUSES.get(self)


_ICONS = {
    CommentState.BUILDING: "🟡", CommentState.READY: "🟢", CommentState.APP_ERROR: "🟠",
    CommentState.FAILED: "🔴", CommentState.CLOSED: "⚪", CommentState.WAITING: "🔒",
    CommentState.SLEEPING: "💤",
}  # fmt: skip
_DEPLOYMENT_STATUSES = {
    CommentState.BUILDING: "in_progress", CommentState.READY: "success",
    CommentState.APP_ERROR: "failure", CommentState.FAILED: "error",
}  # fmt: skip


@dataclass(frozen=True)
class Report:
    """What the comment and the deployment status say."""

    environment: str
    state: CommentState
    url: str | None
    commit: str | None
    log_url: str | None
    detail: str | None = None  # our own words
    output: str | None = None  # what the app or the rollout said: shown as a code block only
    title: str | None = None  # the page's title (ready)
    access: str | None = None  # who can see it, said for people
    public_for_want_of_sign_in: bool = False  # the cluster declares no sign-in


class GitHub:
    """The few REST calls we make, for one repository."""

    def __init__(
        self, *, token: str, repository: str, api_url: str = "https://api.github.com",
        transport: httpx.BaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.repository = repository
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "streamlit-preview",
            },
            timeout=TIMEOUT_SECONDS,
            transport=transport,
        )
        self._login: str | bool | None = False  # False: not asked yet

    def close(self) -> None:
        self._client.close()

    # -- HTTP ---------------------------------------------------------------------------

    @tenacity.retry(
        retry=tenacity.retry_if_exception_type(_Retryable),
        wait=_wait,
        stop=tenacity.stop_after_attempt(MAX_ATTEMPTS),
        reraise=True,
    )
    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise _Retryable(None, f"{type(exc).__name__}") from None
        limited = response.status_code in (403, 429) and (
            response.headers.get("x-ratelimit-remaining") == "0"
            or "retry-after" in response.headers
        )
        if response.status_code >= 500 or response.status_code == 429 or limited:
            raise _Retryable(response, f"{response.status_code}")
        return response

    def _send_or_fail(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """`_send`, with retries exhausted as a `ServiceError`."""
        try:
            return self._send(method, url, **kwargs)
        except _Retryable as exc:
            raise ServiceError(
                f"GitHub {method} {url}: still failing after {MAX_ATTEMPTS} attempts ({exc})"
            ) from None

    def _request(self, method: str, url: str, *, allow: tuple[int, ...] = (), **kwargs: Any) -> Any:
        response = self._send_or_fail(method, url, **kwargs)
        if response.status_code in allow:
            return None
        if response.status_code >= 400:
            try:
                message = response.json().get("message", "")
            except ValueError:
                message = response.text[:200]
            hint = (
                " (does the workflow grant this permission?)"
                if response.status_code in (403, 404)
                else ""
            )
            raise ServiceError(f"GitHub {method} {url}: {response.status_code} {message}{hint}")
        return response.json() if response.content else None

    def _paginate(self, url: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        query: dict[str, Any] | None = {"per_page": 100} | (params or {})
        for _ in range(MAX_PAGES):
            if next_url is None:
                break
            try:
                # httpx replaces a URL's query with `params`: the next link keeps its own.
                response = self._send("GET", next_url, params=query)
            except _Retryable as exc:
                raise ServiceError(f"GitHub GET {url}: still failing ({exc})") from None
            if response.status_code >= 400:
                raise ServiceError(f"GitHub GET {url}: {response.status_code}")
            items += response.json()
            next_url = response.links.get("next", {}).get("url")
            query = None
        return items

    # -- sticky comment -----------------------------------------------------------------

    def _own_login(self) -> str | None:
        """The token's user for personal tokens; None for app tokens (github-actions[bot])."""
        if self._login is False:
            data = self._request("GET", "/user", allow=(401, 403, 404))
            self._login = data.get("login") if isinstance(data, dict) else None
        return self._login if isinstance(self._login, str) and self._login else None

    def _is_ours(self, comment: dict[str, Any], marker: str) -> bool:
        if not (comment.get("body") or "").startswith(marker):
            return False
        user = comment.get("user") or {}
        login = self._own_login()
        return user.get("login") == login if login else user.get("type") == "Bot"

    def upsert_comment(self, pr: int, report: Report) -> int:
        """Edit our comment for this environment in place, or create it; return its id."""
        marker = MARKER.format(environment=report.environment)
        body = marker + "\n" + render_comment(report)
        comments = self._paginate(f"/repos/{self.repository}/issues/{pr}/comments")
        ours = next((c for c in comments if self._is_ours(c, marker)), None)
        if ours:
            data = self._request(
                "PATCH",
                f"/repos/{self.repository}/issues/comments/{ours['id']}",
                json={"body": body},
            )
        else:
            data = self._request(
                "POST", f"/repos/{self.repository}/issues/{pr}/comments", json={"body": body}
            )
        return int(data["id"])

    def pull_request_is_open(self, pr: int) -> bool:
        """GitHub's word on the pull request now (an event's payload may be stale: a sync
        that was queued behind a close)."""
        data = self._request("GET", f"/repos/{self.repository}/pulls/{pr}")
        return isinstance(data, dict) and data.get("state") == "open"

    # -- fork approval ------------------------------------------------------------------

    def can_write(self, login: str) -> bool:
        """Whether `login` has write access (write, maintain or admin) to the repository."""
        data = self._request(
            "GET", f"/repos/{self.repository}/collaborators/{quote(login)}/permission",
            allow=(404,),
        )  # fmt: skip
        return isinstance(data, dict) and data.get("permission") in ("admin", "maintain", "write")

    def is_collaborator(self, login: str) -> bool:
        """Whether `login` is a collaborator of the repository (direct, through a team, or an
        organisation owner): GitHub answers 204 or 404. The permission endpoint would say
        `read` for every GitHub user on a public repository."""
        url = f"/repos/{self.repository}/collaborators/{quote(login)}"
        response = self._send_or_fail("GET", url)
        if response.status_code not in (204, 404):
            raise ServiceError(f"GitHub GET {url}: {response.status_code}")
        return response.status_code == 204

    def remove_label(self, pr: int, label: str) -> None:
        """Take the approval label off (a missing label is fine)."""
        self._request(
            "DELETE", f"/repos/{self.repository}/issues/{pr}/labels/{quote(label)}", allow=(404,)
        )

    # -- deployments --------------------------------------------------------------------

    def start_deployment(
        self, *, environment: str, sha: str, description: str, task: str,
        payload: dict[str, Any] | None = None,
    ) -> int:  # fmt: skip
        """A Deployment of `sha` in the repository's shared preview `environment`, told apart
        from other pull requests' by its `task` (`deploy:pr-12`), and in progress."""
        data = self._request(
            "POST", f"/repos/{self.repository}/deployments",
            json={
                "ref": sha, "environment": environment, "description": description[:140],
                "auto_merge": False, "required_contexts": [], "transient_environment": True,
                "production_environment": False, "task": task, "payload": payload or {},
            },
        )  # fmt: skip
        deployment_id = int(data["id"])
        self.set_status(deployment_id, "in_progress", log_url=None)
        return deployment_id

    def latest_deployment(self, environment: str, *, task: str) -> int | None:
        """The newest Deployment of one pull request (its `task`) in `environment`: one
        request, however many syncs came before."""
        data = self._request(
            "GET", f"/repos/{self.repository}/deployments",
            params={"environment": environment, "task": task, "per_page": 1},
        )  # fmt: skip
        return int(data[0]["id"]) if isinstance(data, list) and data else None

    def set_status(
        self, deployment_id: int, state: str, *, log_url: str | None,
        environment_url: str | None = None, description: str | None = None,
    ) -> None:  # fmt: skip
        payload: dict[str, Any] = {"state": state, "auto_inactive": False}
        if log_url:
            payload["log_url"] = log_url
        if environment_url:
            payload["environment_url"] = environment_url
        if description:
            payload["description"] = description[:140]
        self._request(
            "POST", f"/repos/{self.repository}/deployments/{deployment_id}/statuses", json=payload
        )

    def deactivate(self, deployment_id: int | None, *, log_url: str | None) -> None:
        """Mark one earlier Deployment inactive (transient ones are not marked by GitHub).
        Each sync retires only its predecessor, so a pull request has at most one active
        Deployment and a sync costs the same number of requests at the 50th as at the 1st."""
        if deployment_id is not None:
            self.set_status(deployment_id, "inactive", log_url=log_url)


def deployment_environment(name: str | None) -> str:
    """The GitHub environment of a repository's previews: one for all its pull requests (as
    Vercel's "Preview"), one per app `name`; never one per pull request, which GitHub would
    keep forever (deleting an environment needs admin rights a workflow token lacks)."""
    return f"{PREVIEW_ENVIRONMENT}-{name}" if name else PREVIEW_ENVIRONMENT


def deployment_task(pr: int) -> str:
    """What tells one pull request's Deployments apart in the shared environment."""
    return f"deploy:pr-{pr}"


PREVIEW_ENVIRONMENT = "preview"


PROTECT_DOCS = "https://github.com/streamlit-preview/streamlit-preview/blob/v1/docs/security.md#who-can-see-a-preview"


def render_comment(report: Report) -> str:
    """The comment's markdown: what a reviewer needs at a glance, and never more than the page
    does: a failed or erroring preview's URL is not presented as a working preview."""
    state = report.state
    live = state in (CommentState.READY, CommentState.BUILDING, CommentState.SLEEPING)
    lines = []
    if report.public_for_want_of_sign_in and state is not CommentState.CLOSED:
        lines += [
            f"> **This preview is public**: anyone with its link can open it. [Protect previews]({PROTECT_DOCS})",
            "",
        ]
    lines += [f"### {state.icon} Streamlit preview: {state.value}", ""]
    lines += ["| | |", "|---|---|"]
    if report.url and live:
        lines.append(f"| **URL** | {report.url} |")
    elif report.url and state is CommentState.APP_ERROR:
        lines.append(f"| **URL** | {report.url} (it shows the error below) |")
    if report.title and state is CommentState.READY:
        lines.append(f"| **Page** | {_plain(report.title)} |")
    if report.access and state is not CommentState.CLOSED:
        lines.append(f"| **Who can see it** | {report.access} |")
    lines.append(f"| **Environment** | `{report.environment}` |")
    if report.commit:
        lines.append(f"| **Commit** | `{report.commit[:12]}` |")
    lines.append(f"| **Updated** | {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())} |")
    if report.log_url:
        lines.append(f"| **Log** | [workflow run]({report.log_url}) |")
    if report.detail:
        lines += ["", f"> {report.detail}"]
    if report.output:
        lines += ["", code_block(tail(report.output))]
    if state is CommentState.BUILDING:
        lines += ["", "The preview is starting; this comment changes when it serves."]
    if state is CommentState.SLEEPING:
        lines += [
            "",
            "The preview sleeps after a while without visitors. Opening its URL wakes "
            "it in a few seconds, at the branch's latest commit.",
        ]
    if state is CommentState.CLOSED and not report.detail:
        lines += ["", "The pull request is closed: the preview and everything it used are deleted."]
    return "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    """A title as plain text in a table cell: no markdown, mentions or pipes from the app."""
    return "".join(ch for ch in text if ch.isprintable())[:100].translate(
        {ord(c): f"\\{c}" for c in "\\`*_[]()<>|#!@~"}
    )


REFRESH_MARGIN_SECONDS_DEFAULT = 300.0


class AppInstallationTokens:
    """Installation tokens of a GitHub App, minted from the App's private key when needed.

    A lasting credential for the webhook receiver: the App (read-only `contents` on the
    repositories it is installed on) signs a ten-minute JWT with its key, and GitHub trades it
    for an installation token that lives an hour. A token is reused until five minutes before
    it expires. The key and the tokens never reach logs or errors.
    """

    def __init__(
        self, *, app_id: str, private_key: str, installation_id: str,
        api_url: str = "https://api.github.com", transport: httpx.BaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.app_id, self.installation_id = app_id, installation_id
        self._key = private_key
        self._client = httpx.Client(base_url=api_url.rstrip("/"), timeout=TIMEOUT_SECONDS, transport=transport,
                                    headers={"Accept": "application/vnd.github+json", "User-Agent": "streamlit-preview",
                                             "X-GitHub-Api-Version": API_VERSION})  # fmt: skip
        self._tokens: dict[str | None, tuple[str, float]] = {}  # scope → (token, expires)
        self._lock = threading.Lock()

    def _jwt(self) -> str:
        import jwt  # PyJWT, with its `crypto` extra for RS256

        now = int(time.time())
        claims = {"iat": now - 60, "exp": now + 540, "iss": self.app_id}
        try:
            return jwt.encode(claims, self._key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ServiceError(
                f"the GitHub App's private key cannot sign: {type(exc).__name__}"
            ) from None

    def token(
        self, repository: str | None = None, *, lasting: float = REFRESH_MARGIN_SECONDS_DEFAULT
    ) -> str:
        """A valid installation token, minted anew when the last one is about to expire.

        With `repository` (`owner/name`), the token reads that one repository's contents and
        nothing else: that is the token a preview's pod gets, since the pod runs the pull
        request's code. Without it, the App's own permissions (the receiver's reports). The
        token returned is good for at least `lasting` more seconds."""
        with self._lock:  # the receiver's syncs and its token refresh ask from many threads
            return self._token(repository, lasting)

    def _token(self, repository: str | None, lasting: float) -> str:
        cached = self._tokens.get(repository)
        if cached and time.time() < cached[1] - lasting:
            return cached[0]
        path = f"/app/installations/{quote(self.installation_id)}/access_tokens"
        scope = None
        if repository is not None:
            scope = {"repositories": [repository.rsplit("/", 1)[-1]],
                     "permissions": {"contents": "read"}}  # fmt: skip
        try:
            response = self._client.post(
                path, headers={"Authorization": f"Bearer {self._jwt()}"}, json=scope
            )
        except httpx.HTTPError as exc:
            raise ServiceError(f"GitHub POST {path}: {type(exc).__name__}") from None
        if response.status_code != 201:
            raise ServiceError(
                f"GitHub POST {path}: {response.status_code} (is the App installed, with this ID?)"
            )
        data = response.json()
        token = str(data["token"])
        try:
            expires = datetime.strptime(str(data.get("expires_at")), "%Y-%m-%dT%H:%M:%SZ")
            expires_at = expires.replace(tzinfo=UTC).timestamp()
        except ValueError:
            expires_at = time.time() + 3600
        self._tokens[repository] = (token, expires_at)
        return token
