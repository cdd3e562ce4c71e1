"""What the fronts, `lifecycle` and every backend speak of: an `Environment` (what a user is
told about one preview), its `Status`, the `Backend` interface, and `Progress` lines.

A home of its own, below the fronts and `lifecycle` and above nothing but `config`: backends
implement `Backend` and build `Environment`s; the fronts report them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .config import Settings
    from .statusdoc import ActivityStatus


class Status(StrEnum):
    """An environment's status, as `list`, `--json` and the outputs say it."""

    RUNNING = "running"
    APP_ERROR = "app error"  # it serves, and its page shows an exception
    STARTING = "starting"
    DEAD = "dead"  # its process is gone (local backend)
    DAMAGED = "damaged"  # its state file cannot be read (local backend)
    CLOSED = "closed"
    MISSING = "missing"  # closed, and nothing was there
    SLEEPING = "sleeping"  # scaled to zero after `sleep-after` without visitors; wakes on a visit


Progress = Callable[[str], None]


@dataclass(frozen=True)
class Environment:
    """What a user is told about one environment (`--json`, outputs, the PR comment)."""

    environment: str
    url: str | None
    commit: str | None
    status: Status
    namespace: str | None = None
    branch: str | None = None
    pr: int | None = None
    repository: str | None = None
    expires_at: datetime | None = None  # from the `ttl` input (Kubernetes only)
    name: str | None = None  # the `name` input: one of several previews of the pull request
    access: str | None = None  # who may see it: `public`, `org:acme`, `team:acme/reviewers`
    access_note: str | None = None  # the same, said for the PR comment
    sign_in_url: str | None = None  # the cluster's shared sign-in, where there is one
    page_title: str | None = None  # the page's title, from the look after the open or sync
    app_error: str | None = None  # `app error at app.py:3: NameError: ...` (status "app error")
    pinned: bool = False  # a fork's approved commit: a push never moves it
    private: bool = False  # cloned with a token: a webhook sync needs a lasting one
    created_at: datetime | None = None  # when it was first opened (`list`: its age)
    synced_at: datetime | None = None  # when its reloader last synced (`list`)
    sleep_after: int | None = None  # seconds without a viewer or a commit before it sleeps
    sleeping_since: datetime | None = None  # while it sleeps (Kubernetes only)

    @classmethod
    def for_settings(cls, settings: Settings, *, status: Status, **found: Any) -> Environment:
        """The environment `settings` describe, with what the backend `found` (url, commit,
        namespace, access...): the one constructor where the settings are at hand."""
        target = settings.target
        known: dict[str, Any] = {
            "environment": settings.environment, "url": settings.url, "commit": target.sha,
            "branch": target.branch or None, "pr": target.pr, "repository": target.repository,
            "name": settings.name, "pinned": settings.pin is not None,
            "private": settings.git_token is not None,
        }  # fmt: skip
        return cls(**(known | found), status=status)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("expires_at", "created_at", "synced_at", "sleeping_since"):
            value = getattr(self, key)
            data[key] = value.isoformat().replace("+00:00", "Z") if value else None
        return data


def parse_time(text: object) -> datetime | None:
    """An ISO 8601 time (`...Z` or with an offset) as an aware datetime; None if not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Backend(Protocol):
    """Open, sync, close and list environments; every call is idempotent."""

    name: str

    def open(self, settings: Settings, *, progress: Progress) -> Environment:
        """Create or update the environment and wait until it serves."""

    def sync(self, settings: Settings, *, progress: Progress) -> Environment | None:
        """Bring the environment to the branch head (or `settings.target.sha`).

        None when there is no such environment: `lifecycle` then opens it.
        """

    def exists(self, settings: Settings) -> bool:
        """Whether anything of the environment is there (a sync of a missing one opens it)."""

    def close(self, settings: Settings, *, progress: Progress) -> bool:
        """Delete everything of the environment; False when there was nothing to delete."""

    def list(self) -> list[Environment]:
        """Every environment this backend manages."""

    def sync_to(
        self, environment: Environment, *, sha: str, git_token: str | None = None
    ) -> dict[str, object]:
        """Sync a running environment to `sha` (the webhook receiver's path); the reloader's
        `/sync` answer. No rollout, no report: only the signed call."""

    def store_git_token(self, environment: Environment, token: str) -> None:
        """Keep a fresh clone token where the preview reads it when it starts again (the
        receiver's refresh: a pod rescheduled hours after its last workflow run)."""

    def settle(self, environment: Environment, *, commit: str, timeout: float) -> Environment:
        """`environment` at `commit` as its page check saw it (the receiver's report): the
        title, or `app error` with its line; unchanged when the check is off or late."""

    def activity(self, environment: Environment) -> ActivityStatus | None:
        """The reloader's `activity` (open tabs, last activity), or None when unknown."""

    def sleep(self, environment: Environment) -> None:
        """Scale the environment to zero; its Secret, data and route stay."""

    def wake(self, environment: Environment) -> bool:
        """Scale a sleeping environment back to one; False when it was not asleep."""
