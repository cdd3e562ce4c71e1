"""open / sync / close / list over a `Backend`: the one core behind every front.

No I/O of its own: the backend does the work, the front reports. `progress` receives
human lines (the fronts print them to stderr).
"""

from __future__ import annotations

from dataclasses import replace

from .config import Settings
from .environment import Backend, Environment, Progress, Status
from .errors import InputError
from .naming import same_repository


def open_environment(backend: Backend, settings: Settings, progress: Progress) -> Environment:
    """Create the environment, or sync it when it already runs."""
    _require_branch(settings, "open")
    progress(f"opening {settings.environment} ({backend.name}) from {settings.target.branch}")
    return backend.open(settings, progress=progress)


def sync_environment(backend: Backend, settings: Settings, progress: Progress) -> Environment:
    """Bring the environment to the branch head; an environment not there yet is opened."""
    progress(f"syncing {settings.environment}")
    synced = backend.sync(settings, progress=progress)
    if synced is not None:
        return synced
    _require_branch(settings, "sync")
    if backend.name == "kubernetes" and settings.router != "none" and not settings.domain:
        raise InputError(
            "domain", f"required to open {settings.environment}, which does not exist yet"
        )
    progress(f"{settings.environment} does not exist yet; opening it instead")
    return backend.open(settings, progress=progress)


def close_environment(backend: Backend, settings: Settings, progress: Progress) -> Environment:
    """Delete everything of the environment; closing a missing one succeeds."""
    existed = backend.close(settings, progress=progress)
    progress(
        f"closed {settings.environment}" if existed else f"{settings.environment} was not there"
    )
    return Environment.for_settings(
        settings, status=Status.CLOSED if existed else Status.MISSING, url=None, commit=None,
        namespace=_namespace(backend, settings),
    )  # fmt: skip


def close_pull_request(
    backend: Backend, settings: Settings, progress: Progress
) -> list[Environment]:
    """Close the named preview; without a `name`, every preview of the pull request."""
    closed = [close_environment(backend, settings, progress)]
    if settings.name is None:
        for env in backend.list():
            same = same_repository(env.repository or "", settings.target.repository)
            if same and env.pr == settings.target.pr and env.environment != settings.environment:
                other = replace(settings, environment=env.environment, name=env.name)
                closed.append(close_environment(backend, other, progress))
    return closed


def list_environments(backend: Backend) -> list[Environment]:
    return backend.list()


def _require_branch(settings: Settings, verb: str) -> None:
    if not settings.target.branch:
        raise InputError(
            "branch", f"required to {verb} {settings.environment}: the branch to follow"
        )


def _namespace(backend: Backend, settings: Settings) -> str | None:
    return settings.namespace if backend.name == "kubernetes" else None
