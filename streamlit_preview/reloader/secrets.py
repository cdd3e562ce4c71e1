"""Every secret value a reloader knows, for masking what it shows: the git token of the
moment, the app's `secret-env` values and `st.secrets`' values."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from ..redact import Redactor, toml_values
from .config import ReloaderSettings


class KnownSecrets:
    """The secrets a reloader masks. The app's are read once (they do not change in a pod's
    life); the git token is asked each time (a sync may bring a new one)."""

    def __init__(self, settings: ReloaderSettings, *, token: Callable[[], str | None]) -> None:
        self._settings = settings
        self._token = token
        self._fixed: tuple[str, ...] | None = None
        self._redactor = Redactor(())
        self._redactor_for: tuple[str, ...] = ()

    def values(self) -> tuple[str, ...]:
        if self._fixed is None:
            fixed = [os.environ.get(name, "") for name in self._settings.secret_env_names]
            if self._settings.secrets_file is not None:
                with contextlib.suppress(OSError):
                    fixed += toml_values(self._settings.secrets_file.read_text())
            self._fixed = tuple(fixed)
        return (self._token() or "", *self._fixed)

    def redactor(self) -> Redactor:
        return Redactor(self.values())

    def redact(self, text: str) -> str:
        """`text` with every known secret masked; one Redactor is kept per set of secrets."""
        values = self.values()
        if self._redactor_for != values:
            self._redactor, self._redactor_for = Redactor(values), values
        return self._redactor(text)
