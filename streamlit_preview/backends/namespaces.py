"""Several namespaces seen as one backend: the receiver's and the cleanup job's view when each
repository has its own namespace (the chart's layout).

Each namespace keeps its own `KubernetesBackend`; a call about an environment or a settings
goes to the backend of its namespace, and `list` is every namespace's list. Nothing here reads
across namespaces by itself: the identity needs rights in each one it is given, no more.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..config import Settings
from ..environment import Backend, Environment, Progress
from ..errors import InputError
from ..statusdoc import ActivityStatus


class AcrossNamespaces:
    name = "kubernetes"

    def __init__(self, backends: Mapping[str, Backend]) -> None:
        if not backends:
            raise InputError("--namespace", "expected at least one namespace")
        self._backends = dict(backends)

    def _of(self, namespace: str | None) -> Backend:
        backend = self._backends.get(namespace or "")
        if backend is None:
            known = ", ".join(sorted(self._backends))
            raise InputError("namespace", f"expected one of {known}, got {namespace!r}")
        return backend

    def open(self, settings: Settings, *, progress: Progress) -> Environment:
        return self._of(settings.namespace).open(settings, progress=progress)

    def sync(self, settings: Settings, *, progress: Progress) -> Environment | None:
        return self._of(settings.namespace).sync(settings, progress=progress)

    def exists(self, settings: Settings) -> bool:
        return self._of(settings.namespace).exists(settings)

    def close(self, settings: Settings, *, progress: Progress) -> bool:
        return self._of(settings.namespace).close(settings, progress=progress)

    def list(self) -> list[Environment]:
        return [env for backend in self._backends.values() for env in backend.list()]

    def sync_to(
        self, environment: Environment, *, sha: str, git_token: str | None = None
    ) -> dict[str, object]:
        return self._of(environment.namespace).sync_to(environment, sha=sha, git_token=git_token)

    def store_git_token(self, environment: Environment, token: str) -> None:
        self._of(environment.namespace).store_git_token(environment, token)

    def settle(self, environment: Environment, *, commit: str, timeout: float) -> Environment:
        return self._of(environment.namespace).settle(environment, commit=commit, timeout=timeout)

    def activity(self, environment: Environment) -> ActivityStatus | None:
        return self._of(environment.namespace).activity(environment)

    def sleep(self, environment: Environment) -> None:
        self._of(environment.namespace).sleep(environment)

    def wake(self, environment: Environment) -> bool:
        return self._of(environment.namespace).wake(environment)
