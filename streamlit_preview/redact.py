"""Text that an app, a setup script or pip printed, made safe to show: known secret values
redacted, cut to a few lines, and fenced as a code block so a fork cannot put markdown,
mentions or images into the bot's comment. Pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
MAX_LINES = 8
MAX_LINE_CHARACTERS = 300


class Redactor:
    """Replaces every known secret value (longest first, so no part of one survives)."""

    def __init__(self, values: Iterable[str]) -> None:
        kept = {v for v in values if v and len(v.strip()) >= MIN_SECRET_LENGTH}
        for value in list(kept):  # a multi-line secret is also redacted line by line
            kept |= {
                line.strip()
                for line in value.splitlines()
                if len(line.strip()) >= MIN_SECRET_LENGTH
            }
        ordered = sorted(kept, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text


def toml_values(text: str) -> list[str]:
    """Every string value of a secrets.toml (what `st.secrets` holds), for redaction."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return [
            line.split("=", 1)[1].strip().strip("'\"") for line in text.splitlines() if "=" in line
        ]
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str | int | float) and not isinstance(node, bool):
            found.append(str(node))

    walk(data)
    return found


def tail(text: str, *, lines: int = MAX_LINES) -> str:
    """The last `lines` lines, each cut to `MAX_LINE_CHARACTERS`."""
    kept = [line[:MAX_LINE_CHARACTERS] + ("…" if len(line) > MAX_LINE_CHARACTERS else "")
            for line in text.replace("\r\n", "\n").replace("\r", "\n").splitlines()[-lines:]]  # fmt: skip
    return "\n".join(kept)


def code_block(text: str) -> str:
    """`text` fenced so nothing inside is markdown: the fence is longer than any backtick run."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"
