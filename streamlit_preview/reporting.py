"""What a pull request is told about its preview: the sticky comment and the Deployment.

One reporter for both paths that move a preview, the workflow (`action.py`) and the webhook
receiver (`hook.py`), so the pull request reads the same whichever moved it. Reporting
problems (permissions, GitHub outages) are warnings: the preview itself still counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .environment import Environment, Status
from .errors import ServiceError
from .github import CommentState, GitHub, Report, deployment_environment, deployment_task


@dataclass
class PullRequestReporter:
    """The sticky comment and the GitHub Deployment of one preview's open, sync or close."""

    github: GitHub | None  # None: no token, nothing is reported
    environment: str
    pr: int
    name: str | None  # the `name` input: one GitHub environment per app
    url: str | None
    comment: bool
    deployment: bool
    log_url: str | None
    warn: Callable[[str], None]
    deployment_id: int | None = None
    comment_id: int | None = None
    _previous: int | None = None  # the pull request's Deployment before this one

    @property
    def _github_environment(self) -> str:
        return deployment_environment(self.name)

    def _safely(self, what: str, call: Callable[[GitHub], Any]) -> Any:
        """`call(github)`; without GitHub (no token) nothing, and a failure is a warning."""
        if self.github is None:
            return None
        try:
            return call(self.github)
        except ServiceError as exc:
            self.warn(f"could not {what}: {exc}")
            return None

    def _comment(
        self, state: CommentState, env: Environment | None, *, commit: str | None = None,
        detail: str | None = None, output: str | None = None,
    ) -> None:  # fmt: skip
        if not self.comment:
            return
        report = Report(
            environment=self.environment, state=state,
            url=(env.url if env else None) or self.url,
            commit=(env.commit if env else None) or commit,
            log_url=self.log_url, detail=detail, output=output,
            title=env.page_title if env else None,
            access=env.access_note if env else None,
            public_for_want_of_sign_in=bool(env and env.access == "public" and not env.sign_in_url),
        )  # fmt: skip
        self.comment_id = self._safely(
            "update the PR comment", lambda github: github.upsert_comment(self.pr, report)
        )

    def _status(self, state: CommentState, *, url: str | None = None, description: str) -> None:
        status, deployment = state.deployment_status, self.deployment_id
        if deployment is None or status is None:
            return
        self._safely(f"mark the Deployment {status}", lambda github: github.set_status(
            deployment, status, log_url=self.log_url, environment_url=url,
            description=description,
        ))  # fmt: skip
        if self._previous is not None:
            previous, self._previous = self._previous, None
            self._safely("retire the earlier Deployment",
                         lambda github: github.deactivate(previous, log_url=self.log_url))  # fmt: skip

    def started(self, sha: str | None) -> None:
        """Before the rollout wait: the Deployment is in progress, the comment says building."""
        if self.deployment and sha:
            task = deployment_task(self.pr)
            self._previous = self._safely(
                "find the earlier Deployment",
                lambda github: github.latest_deployment(self._github_environment, task=task),
            )
            self.deployment_id = self._safely(
                "create a GitHub Deployment",
                lambda github: github.start_deployment(
                    environment=self._github_environment, sha=sha, task=task,
                    description=f"Streamlit preview of #{self.pr}",
                    payload={"pull_request": self.pr, "preview": self.environment},
                ),
            )  # fmt: skip
        self._comment(CommentState.BUILDING, None, commit=sha)

    def succeeded(self, env: Environment) -> None:
        """It serves: ready, or an app error when the page shows an exception; or it sleeps
        (a push or a sync while asleep), and the next visit wakes it at the branch head."""
        if env.status is Status.SLEEPING:
            since = (
                env.sleeping_since.strftime("%Y-%m-%d %H:%M UTC") if env.sleeping_since else None
            )
            self._comment(
                CommentState.SLEEPING, env, detail=f"Asleep since {since}." if since else None
            )
            return
        if env.status is Status.APP_ERROR:
            self._status(CommentState.APP_ERROR, description=(env.app_error or "app error")[:140])
            self._comment(CommentState.APP_ERROR, env, detail="The preview runs, and its page shows an exception:",
                          output=env.app_error)  # fmt: skip
            return
        self._status(
            CommentState.READY, url=env.url, description=f"live at {(env.commit or '')[:12]}"
        )
        self._comment(CommentState.READY, env)

    def failed(self, reason: str, *, commit: str | None = None) -> None:
        """It did not come up at all."""
        self._status(CommentState.FAILED, description=reason)
        self._comment(
            CommentState.FAILED, None, commit=commit, detail="The preview did not come up:",
            output=reason,
        )  # fmt: skip

    def closed(self, env: Environment, *, detail: str | None = None) -> None:
        if self.deployment:
            task = deployment_task(self.pr)
            latest = self._safely(
                "find the Deployment",
                lambda github: github.latest_deployment(self._github_environment, task=task),
            )
            self._safely("retire the Deployment",
                         lambda github: github.deactivate(latest, log_url=self.log_url))  # fmt: skip
        self._comment(CommentState.CLOSED, env, detail=detail)
