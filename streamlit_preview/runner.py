"""The GitHub runner protocol: inputs, outputs, job summary, masks, groups, annotations.

It is a handful of environment variables and files, so a small module of our own serves
better than the unmaintained `actions-toolkit`. The only module that reads `INPUT_*` or
writes `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from .errors import InputError


class Runner:
    """One step's view of the runner, over an environment mapping (tests pass their own)."""

    def __init__(self, environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.out = out or sys.stdout

    # -- reading ------------------------------------------------------------------------

    def input(self, name: str) -> str:
        """`INPUT_<NAME>`: upper-cased, dashes kept (as the runner sets it)."""
        return self.environ.get(f"INPUT_{name.upper()}", "").strip()

    def inputs(self, names: list[str]) -> dict[str, str]:
        return {name: self.environ.get(f"INPUT_{name.upper()}", "") for name in names}

    def event(self) -> tuple[str, dict[str, Any]]:
        """The event name and payload; an unreadable payload is a bad input."""
        name = self.environ.get("GITHUB_EVENT_NAME", "")
        path = self.environ.get("GITHUB_EVENT_PATH", "")
        if not path:
            return name, {}
        try:
            return name, json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InputError("GITHUB_EVENT_PATH", f"cannot read the event payload: {exc}") from None

    @property
    def run_url(self) -> str | None:
        server = self.environ.get("GITHUB_SERVER_URL", "https://github.com")
        repo, run = self.environ.get("GITHUB_REPOSITORY"), self.environ.get("GITHUB_RUN_ID")
        return f"{server}/{repo}/actions/runs/{run}" if repo and run else None

    # -- writing ------------------------------------------------------------------------

    def set_output(self, name: str, value: object) -> None:
        text = "" if value is None else str(value)
        path = self.environ.get("GITHUB_OUTPUT")
        if not path:
            return
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        path = self.environ.get("GITHUB_STEP_SUMMARY")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(markdown.rstrip("\n") + "\n")

    def mask(self, value: str | None) -> None:
        """Ask the runner to hide `value` (each line of it) from every later log line."""
        for line in (value or "").splitlines():
            if line.strip():
                self._command("add-mask", line.strip())

    def error(self, message: str, *, title: str | None = None) -> None:
        self._command("error", message, title=title)

    def warning(self, message: str, *, title: str | None = None) -> None:
        self._command("warning", message, title=title)

    def notice(self, message: str, *, title: str | None = None) -> None:
        self._command("notice", message, title=title)

    def info(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._command("group", title)
        try:
            yield
        finally:
            self._command("endgroup", "")

    def _command(self, command: str, message: str, **properties: str | None) -> None:
        props = ",".join(f"{k}={_escape_property(v)}" for k, v in properties.items() if v)
        head = f"::{command} {props}" if props else f"::{command}"
        print(f"{head}::{_escape_data(message)}", file=self.out, flush=True)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
