"""The one exception tree, and the exit codes the fronts map it to.

    PreviewError                 anything this tool reports to a user (exit 1)
    ├── InputError               a bad input, flag or event; nothing was changed (exit 2)
    ├── ServiceError             Kubernetes, GitHub or a process failed (exit 1)
    │   └── RolloutError         the environment did not become ready in time
    └── SyncError                the environment could not be brought to the commit
        └── UnknownCommitError   the requested commit does not exist on the remote

Only the fronts (`cli.py`, `action.py`, `reloader/main.py`) turn these into exit codes.
Messages are one line, name the input or service, and never carry a secret.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class PreviewError(Exception):
    """Raised for any failure a user should read; the base of the tree."""

    exit_code = EXIT_FAILURE


class InputError(PreviewError):
    """Raised when an input is missing or malformed, before anything is changed."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


class ServiceError(PreviewError):
    """Raised when Kubernetes, GitHub, git or a child process fails."""


class RolloutError(ServiceError):
    """Raised when an environment does not become ready within the wait timeout."""


class SetupError(ServiceError):
    """The app's `setup` command failed; the preview runs anyway."""


class SyncError(PreviewError):
    """Raised when a sync cannot bring the checkout to the branch head."""


class PermanentSyncError(SyncError):
    """A failure no retry can fix: repository or branch not found, access refused, no app.

    The reloader reports it once (log, `/status`, the termination message) and exits, so a
    first open fails within seconds with this one line instead of waiting out its timeout.
    """


class UnknownCommitError(SyncError):
    """Raised when a requested commit cannot be found on the remote after fetching."""
