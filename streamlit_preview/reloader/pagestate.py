"""What the reloader last saw on the page, for `/status` (`page`) and the fronts.

`state`: `ok` (the page rendered, or is still running after `check-timeout`), `app_error` (it
shows an exception, or the requirements did not install), `not_checked` (check: none, or no
session could be opened), `checking` (a look is under way). The unsigned `/status` carries
the exception's type and place only; its message, which the app wrote, is in the signed
detail, redacted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from ..statusdoc import PageStatus
from .pagecheck import AppError


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Look(StrEnum):
    """What the last look at the page found (`/status` `page.state`)."""

    OK = "ok"
    APP_ERROR = "app_error"
    NOT_CHECKED = "not_checked"
    CHECKING = "checking"


@dataclass(frozen=True)
class PageState:
    state: Look = Look.NOT_CHECKED
    commit: str | None = None
    errors: tuple[AppError, ...] = ()
    title: str | None = None
    note: str | None = None
    checked_at: str | None = None

    @property
    def checked_commit(self) -> str | None:
        return self.commit if self.state in (Look.OK, Look.APP_ERROR) else None

    @classmethod
    def found(
        cls, commit: str, errors: list[AppError], *, title: str | None, note: str | None
    ) -> PageState:
        state = Look.APP_ERROR if errors else Look.OK
        return cls(
            state=state,
            commit=commit,
            errors=tuple(errors),
            title=title,
            note=note,
            checked_at=_now(),
        )

    def as_dict(
        self, *, detail: bool, redact: Callable[[str], str] = lambda text: text
    ) -> PageStatus:
        error = self.errors[0] if self.errors else None
        return {
            "state": self.state,
            "error": None if error is None else {
                "type": error.type, "file": error.file, "line": error.line,
                "message": redact(error.message) if detail else None,
            },
            "errors": len(self.errors),
            "title": self.title,
            "note": self.note,
            "checked_commit": self.checked_commit,
            "checked_at": self.checked_at,
        }  # fmt: skip
