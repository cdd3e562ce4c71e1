"""`streamlit-preview hook`: a GitHub webhook receiver, so a push reaches its previews in about
a second instead of after a workflow job.

`POST /` takes GitHub's deliveries; `GET /healthz` answers 200. The signature is checked, in
constant time, before anything is parsed. A `push` is planned (`plan_push`: which previews it
moves, and why the others are skipped), then answered at once: 202 with the previews whose
sync started, 200 and an empty list when none match. GitHub gives a delivery 10 s and never
redelivers by itself, so the syncs finish in the background (`SyncQueue`): one at a time per
preview, a newer commit superseding one that waits. Each outcome is logged and, with a GitHub
App credential, reported on the pull request (comment and Deployment) as the workflow would.
The workflow keeps opening and closing previews, and syncs as the fallback: a second sync of
the same commit changes nothing.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .bodies import read_limited
from .cookies import SIGN_IN_COOKIE, STRIP_COOKIES_PATH, without_sign_in
from .environment import Backend, Environment, Status
from .errors import PreviewError, ServiceError
from .github import AppInstallationTokens, GitHub
from .naming import same_repository
from .reporting import PullRequestReporter
from .sleeping import WAKE_PATH, WAKING_PAGE, should_sleep
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
PAGE_TIMEOUT_SECONDS = 60.0  # how long a report waits for the preview's look at its page
TOKEN_REFRESH_SECONDS = 1800.0  # installation tokens live 60 min
TOKEN_LIFE_AT_STORE_SECONDS = TOKEN_REFRESH_SECONDS + 300  # a stored one outlives the next round
NO_REPORT = (
    "no GitHub App credential: the pull request's comment and Deployment are updated by the "
    "workflow's next run"
)


class Outcome(StrEnum):
    """What the receiver does with one matching preview."""

    STARTED = "started"  # its sync runs in the background
    SKIPPED = "skipped"
    SLEEPING = "sleeping"  # not woken by a push: it wakes on the next visit, at the branch head


@dataclass(frozen=True)
class Step:
    """One matching preview and what the push does to it."""

    environment: Environment
    outcome: Outcome
    reason: str | None = None  # why it is skipped

    def as_dict(self, *, commit: str) -> dict[str, object]:
        entry: dict[str, object] = {"environment": self.environment.environment,
                                    "status": self.outcome.value}  # fmt: skip
        if self.outcome is Outcome.STARTED:
            entry["commit"] = commit
        if self.reason:
            entry["reason"] = self.reason
        return entry


@dataclass(frozen=True)
class PushPlan:
    steps: tuple[Step, ...] = ()
    note: str | None = None  # said in `X-Preview-Note` and the log

    @property
    def to_sync(self) -> list[Environment]:
        return [s.environment for s in self.steps if s.outcome is Outcome.STARTED]


PINNED = "pinned to an approved commit (a fork's preview): a push never moves it"
ASLEEP = "sleeping; wakes on the next visit, at the branch head"
NO_CREDENTIAL = (
    "private repository and no lasting credential (--git-token-file or a GitHub App): "
    "left to the workflow's sync"
)


def matching(push: Push, environments: Iterable[Environment]) -> list[Environment]:
    """The previews that follow the pushed repository and branch."""
    return [
        env for env in environments
        if env.branch == push.branch and env.repository
        and any(same_repository(env.repository, name) for name in push.repositories)
    ]  # fmt: skip


def needs_credential(environments: Iterable[Environment]) -> bool:
    return any(env.private and not env.pinned for env in environments)


def plan_push(
    push: Push, environments: Iterable[Environment], *, have_token: bool,
    credential_note: str | None = None,
) -> PushPlan:  # fmt: skip
    """Which previews `push` moves, and why each other match is skipped. Pure."""
    if push.deleted or push.branch is None:
        return PushPlan(note="a deleted branch or a tag: nothing to sync")
    steps = []
    for env in matching(push, environments):
        if env.pinned:
            steps.append(Step(env, Outcome.SKIPPED, PINNED))
        elif env.status is Status.SLEEPING:
            steps.append(Step(env, Outcome.SLEEPING, ASLEEP))
        elif env.private and not have_token:
            steps.append(Step(env, Outcome.SKIPPED, NO_CREDENTIAL))
        else:
            steps.append(Step(env, Outcome.STARTED))
    return PushPlan(tuple(steps), credential_note)


@dataclass(frozen=True)
class SyncJob:
    environment: Environment
    sha: str
    git_token: str | None


class SyncQueue:
    """Background syncs: one worker per preview at a time; a newer commit replaces one that
    waits, so only the newest ends up live and no two syncs of one preview overlap."""

    def __init__(self, run: Callable[[SyncJob, Callable[[], bool]], None]) -> None:
        self._run = run  # (job, superseded?) → None; it logs and reports its own outcome
        self._lock = threading.Condition()
        self._waiting: dict[str, SyncJob] = {}
        self._busy: set[str] = set()

    def submit(self, job: SyncJob) -> None:
        name = job.environment.environment
        with self._lock:
            if name in self._waiting:
                logger.info("%s: %s supersedes %s, which had not started", name,
                            job.sha[:12], self._waiting[name].sha[:12])  # fmt: skip
            self._waiting[name] = job
            if name in self._busy:
                return
            self._busy.add(name)
        threading.Thread(target=self._work, args=(name,), daemon=True, name=f"sync {name}").start()

    def _work(self, name: str) -> None:
        while True:
            with self._lock:
                job = self._waiting.pop(name, None)
                if job is None:
                    self._busy.discard(name)
                    self._lock.notify_all()
                    return
            try:
                self._run(job, lambda: self.has_waiting(name))
            except Exception:  # a worker must never die silently
                logger.exception("%s: the sync to %s failed unexpectedly", name, job.sha[:12])

    def has_waiting(self, name: str) -> bool:
        with self._lock:
            return name in self._waiting

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no sync runs or waits (tests, shutdown); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._busy, timeout=timeout)


@dataclass
class Receiver:
    """What the endpoints need: the secret, the backend, the deliveries seen, the syncs."""

    secret: bytes
    backend: Backend
    git_token_file: Path | None = None
    app_tokens: AppInstallationTokens | None = None  # a GitHub App's, minted when needed
    api_url: str = "https://api.github.com"
    deliveries: Deliveries = field(default_factory=Deliveries)
    _access: dict[tuple[str, str], tuple[bool, float]] = field(default_factory=dict)
    _waited_at: dict[str, datetime] = field(default_factory=dict)  # preview → last waker visit
    syncs: SyncQueue = field(init=False)

    def __post_init__(self) -> None:
        self.syncs = SyncQueue(self._sync_and_report)

    def git_token(self, repository: str | None = None) -> str | None:
        """The lasting credential: a GitHub App's installation token (minted when the last
        one nears its end; for a pod, scoped to `repository` with `contents: read` only), or
        the token file, read at each delivery so a rotated token is picked up without a
        restart."""
        if self.app_tokens is not None:
            return self.app_tokens.token(repository)
        if self.git_token_file is None:
            return None
        return self.git_token_file.read_text().strip() or None

    def can_read(self, repository: str, login: str) -> bool:
        """Whether `login` is a collaborator of `repository`, as GitHub says with the
        receiver's lasting credential; kept for five minutes."""
        key, now = (repository.lower(), login.lower()), time.monotonic()
        cached = self._access.get(key)
        if cached and now - cached[1] < ACCESS_CACHE_SECONDS:
            return cached[0]
        token = self.git_token()  # the App's own token (unscoped), or the token file
        if token is None:
            raise ServiceError(
                "no lasting credential (--git-token-file or a GitHub App) to ask GitHub with"
            )
        github = GitHub(token=token, repository=repository, api_url=self.api_url)
        try:
            allowed = github.is_collaborator(login)
        finally:
            github.close()
        self._access[key] = (allowed, now)
        return allowed

    def plan(self, push: Push) -> tuple[PushPlan, str | None]:
        """The plan of `push` and the git token its private previews get."""
        found = matching(push, self.backend.list())
        token, note = None, None
        if needs_credential(found):
            try:
                token = self.git_token(push.repositories[0])  # full_name
            except PreviewError as exc:  # no credential: say so, sync the public ones
                logger.warning("%s", exc)
                note = f"no lasting credential for private repositories: {exc}"
        plan = plan_push(push, found, have_token=token is not None, credential_note=note)
        if plan.to_sync and self.app_tokens is None:
            plan = PushPlan(plan.steps, "; ".join(filter(None, [plan.note, NO_REPORT])))
        return plan, token

    def start(self, push: Push) -> PushPlan:
        """Plan `push` and start its syncs in the background."""
        plan, token = self.plan(push)
        for env in plan.to_sync:
            self.syncs.submit(SyncJob(env, push.after, token if env.private else None))
        for step in plan.steps:
            if step.outcome is Outcome.SKIPPED:
                logger.info("%s: skipped: %s", step.environment.environment, step.reason)
            if step.outcome is Outcome.SLEEPING:
                logger.info("%s: %s", step.environment.environment, step.reason)
            if step.outcome is Outcome.SLEEPING and self.app_tokens is not None:
                # The comment says so, after the answer: GitHub waits 10 s for it, not for us.
                threading.Thread(
                    target=self._report, args=(replace(step.environment, commit=push.after),),
                    kwargs={"sha": push.after}, daemon=True, name="report a sleeping preview",
                ).start()  # fmt: skip
        return plan

    def sleep_idle(self, *, now: datetime | None = None) -> list[str]:
        """Put to sleep every preview without an open tab or a commit for its `sleep-after`
        (its reloader's `activity`); returns their names."""
        moment = now or datetime.now(UTC)
        slept = []
        for env in self.backend.list():
            if env.status not in (Status.RUNNING, Status.APP_ERROR) or env.sleep_after is None:
                continue
            activity = self.backend.activity(env)
            if activity and should_sleep(now=moment, sleep_after=env.sleep_after,
                                         viewers=activity.get("viewers"), active_at=activity.get("active_at"),
                                         waited_at=self._waited_at.get(env.environment)):  # fmt: skip
                try:
                    self.backend.sleep(env)
                except PreviewError as exc:
                    logger.warning("%s: could not put it to sleep: %s", env.environment, exc)
                    continue
                logger.info(
                    "%s: asleep after %d s without a visitor or a commit",
                    env.environment,
                    env.sleep_after,
                )
                slept.append(env.environment)
                self._report(replace(env, status=Status.SLEEPING, sleeping_since=moment),
                             sha=env.commit or "")  # fmt: skip
        return slept

    def keep_sleeping_idle(self, *, every: float) -> threading.Thread:
        """Look for idle previews every `every` seconds."""

        def loop() -> None:
            while True:
                time.sleep(every)
                try:
                    self.sleep_idle()
                except Exception:  # the loop must outlive one bad round
                    logger.exception("looking for idle previews failed")

        thread = threading.Thread(target=loop, daemon=True, name="sleep idle previews")
        thread.start()
        return thread

    def wake(self, namespace: str, name: str) -> bool:
        """Wake a sleeping preview (a visit reached the router's error page for it). The
        visitor waits for it: `sleep_idle` leaves it awake for a while (`should_sleep`)."""
        self._waited_at[name] = datetime.now(UTC)
        env = Environment(environment=name, url=None, commit=None, status=Status.SLEEPING,
                          namespace=namespace)  # fmt: skip
        woke = self.backend.wake(env)
        if woke:
            logger.info("%s: woken by a visit", name)
        return woke

    def refresh_tokens(self) -> int:
        """Give every private preview a fresh token (its repository only, `contents: read`),
        so a pod that starts again between pushes clones without waiting for a workflow run.
        Returns how many were refreshed; needs a GitHub App credential."""
        if self.app_tokens is None:
            return 0
        refreshed = 0
        for env in self.backend.list():
            if not env.private or env.pinned or not env.repository or "/" not in env.repository:
                continue
            try:
                token = self.app_tokens.token(env.repository, lasting=TOKEN_LIFE_AT_STORE_SECONDS)
                self.backend.store_git_token(env, token)
                refreshed += 1
            except PreviewError as exc:
                logger.warning("%s: could not refresh its clone token: %s", env.environment, exc)
        return refreshed

    def keep_tokens_fresh(self, *, every: float = TOKEN_REFRESH_SECONDS) -> threading.Thread:
        """Refresh now, then every `every` seconds (installation tokens live an hour)."""

        def loop() -> None:
            while True:
                try:
                    count = self.refresh_tokens()
                    logger.info("refreshed the clone token of %d private preview(s)", count)
                except Exception:  # the loop must outlive one bad round
                    logger.exception("refreshing clone tokens failed")
                time.sleep(every)

        thread = threading.Thread(target=loop, daemon=True, name="token refresh")
        thread.start()
        return thread

    def _sync_and_report(self, job: SyncJob, superseded: Callable[[], bool]) -> None:
        name = job.environment.environment
        try:
            answer = self.backend.sync_to(job.environment, sha=job.sha, git_token=job.git_token)
        except PreviewError as exc:
            logger.warning("%s: the sync to %s failed: %s", name, job.sha[:12], exc)
            if not superseded():
                self._report(job.environment, failure=str(exc), sha=job.sha)
            return
        commit = str(answer.get("commit") or job.sha)
        logger.info("%s: synced to %s (changed: %s, restarted: %s)", name, commit[:12],
                    answer.get("changed"), answer.get("restarted"))  # fmt: skip
        if superseded():
            logger.info("%s: a newer push waits: it reports instead", name)
            return
        if self.app_tokens is not None and job.environment.pr is not None:
            settled = self.backend.settle(job.environment, commit=commit,
                                          timeout=PAGE_TIMEOUT_SECONDS)  # fmt: skip
            self._report(settled, sha=commit)

    def _report(self, env: Environment, *, sha: str, failure: str | None = None) -> None:
        """The sticky comment and the Deployment, as the workflow's run would leave them."""
        if self.app_tokens is None or env.pr is None or not env.repository:
            return
        if "/" not in env.repository or "://" in env.repository:
            return
        try:
            token = self.app_tokens.token()
        except PreviewError as exc:
            logger.warning("%s: cannot report to the pull request: %s", env.environment, exc)
            return
        github = GitHub(token=token, repository=env.repository, api_url=self.api_url)
        reporter = PullRequestReporter(
            github=github, environment=env.environment, pr=env.pr, name=env.name, url=env.url,
            comment=True, deployment=True, log_url=None,
            warn=lambda line: logger.warning("%s: %s", env.environment, line),
        )  # fmt: skip
        try:
            if env.status is Status.SLEEPING:  # no new Deployment: the comment says it sleeps
                reporter.succeeded(env)
                return
            reporter.started(sha)
            if failure is not None:
                reporter.failed(failure, commit=sha)
            else:
                reporter.succeeded(env)
        finally:
            github.close()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class ReceiverEndpoints:
    """The receiver's HTTP endpoints over one `Receiver`; each only maps it to HTTP."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def deliver(self, request: Request) -> Response:
        body = await read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return _error(413, f"the body is over {MAX_BODY_BYTES // (1024 * 1024)} MB")
        if not verify_delivery(self.receiver.secret, body, request.headers.get(SIGNATURE_HEADER)):
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
        if not self.receiver.deliveries.first_time(delivery):
            return JSONResponse(
                [], headers={NOTE_HEADER: f"delivery {delivery} was already applied"}
            )
        plan = await run_in_threadpool(self.receiver.start, push)
        entries = [step.as_dict(commit=push.after) for step in plan.steps]
        status = 202 if plan.to_sync else 200
        headers = {NOTE_HEADER: plan.note} if plan.note else None
        return JSONResponse(entries, status_code=status, headers=headers)

    async def healthz(self, _: Request) -> Response:
        return PlainTextResponse("ok")

    async def collaborators(self, request: Request) -> Response:
        """Traefik's ForwardAuth for `access: collaborators`, after oauth2-proxy signed the
        user in: is this GitHub user a collaborator of the repository? (200 or 403)."""
        login = request.headers.get(USER_HEADER, "").strip()
        if not login:
            return PlainTextResponse("not signed in", status_code=401)
        repository = f"{request.path_params['owner']}/{request.path_params['repo']}"
        try:
            allowed = await run_in_threadpool(self.receiver.can_read, repository, login)
        except PreviewError as exc:
            logger.warning("access check of %s on %s: %s", login, repository, exc)
            return PlainTextResponse("the access check failed", status_code=403)
        return PlainTextResponse(
            "ok" if allowed else "not a collaborator", status_code=200 if allowed else 403
        )

    async def strip_cookies(self, request: Request) -> Response:
        """Traefik's last ForwardAuth of a protected preview: the `Cookie` header the app gets,
        without the sign-in's session (see cookies.py). No `Cookie` in the answer means none."""
        names = request.query_params.getlist("name") or [SIGN_IN_COOKIE]
        kept = without_sign_in(request.headers.get("cookie", ""), names)
        return PlainTextResponse("ok", headers={"Cookie": kept} if kept else None)

    async def wake(self, request: Request) -> Response:
        """Traefik's `errors` Middleware for 503 of a sleeping preview (its chain, after the
        sign-in): scale it up, and answer a page that reloads itself at the same URL, deep
        links included."""
        namespace, name = request.path_params["namespace"], request.path_params["environment"]
        try:
            await run_in_threadpool(self.receiver.wake, namespace, name)
        except PreviewError as exc:
            logger.warning("%s: could not wake it: %s", name, exc)
            return PlainTextResponse("this preview cannot be woken now", status_code=503)
        page = WAKING_PAGE.format(environment=html.escape(name))
        return HTMLResponse(
            page, status_code=503, headers={"Retry-After": "2", "Cache-Control": "no-store"}
        )


def create_app(receiver: Receiver) -> Starlette:
    endpoints = ReceiverEndpoints(receiver)
    return Starlette(routes=[
        Route("/", endpoints.deliver, methods=["POST"]), Route("/healthz", endpoints.healthz),
        Route(WAKE_PATH, endpoints.wake, methods=["GET", "HEAD"]),
        Route("/access/collaborators/{owner}/{repo}", endpoints.collaborators, methods=["GET"]),
        Route(STRIP_COOKIES_PATH, endpoints.strip_cookies, methods=["GET"]),
    ])  # fmt: skip


def serve(receiver: Receiver, *, host: str, port: int, sleep_check: float | None = None) -> None:
    """Serve until stopped; `sleep_check`: look for idle previews that often (None: never)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if receiver.app_tokens is not None:
        receiver.keep_tokens_fresh()
    if sleep_check is not None:
        receiver.keep_sleeping_idle(every=sleep_check)
    uvicorn.run(create_app(receiver), host=host, port=port, log_level="warning")
