"""GitHub webhook deliveries: verify, parse, validate, decide. Pure, no I/O.

The receiver (`hook.py`) calls these in order: `verify_delivery` on the raw bytes before
anything is parsed, `parse_delivery` against GitHub's own payload schemas (vendored from
`@octokit/openapi` in `schemas/`), and `Deliveries.first_time` so that a redelivery (GitHub
redelivers on timeouts) is not applied twice.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from .signing import sign, verify_signature

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
MAX_BODY_BYTES = 5 * 1024 * 1024  # GitHub caps payloads at 25 MB; a push is far smaller
SEEN_SECONDS = 3600
SCHEMAS = Path(__file__).parent / "schemas"


class BadDelivery(ValueError):
    """A delivery that is not a well-formed GitHub payload; the message is one line."""


def signature_of(secret: bytes, body: bytes) -> str:
    """`X-Hub-Signature-256` as GitHub computes it: the same HMAC-SHA256 as our `/sync`."""
    return sign(secret, body)


def verify_delivery(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` signs `body` with `secret`; compared in constant time."""
    return verify_signature(secret, body, header)


@functools.cache
def _validator(event: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"webhook-{event}.json").read_text())
    return jsonschema.Draft202012Validator(schema)


@dataclass(frozen=True)
class Push:
    """What a push means for previews."""

    repositories: tuple[str, ...]  # full_name and clone_url: either names the repository
    branch: str | None  # None for a tag push
    after: str
    deleted: bool
    private: bool


def parse_delivery(event: str, body: bytes) -> Push | None:
    """Parse a `push` (or check a `ping`); raise `BadDelivery` with one line if malformed."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadDelivery("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadDelivery("the body is not a JSON object")
    error = jsonschema.exceptions.best_match(_validator(event).iter_errors(payload))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the payload"
        raise BadDelivery(f"not a GitHub {event} payload: {where}: {error.message[:200]}")
    if event != "push":
        return None
    repository: dict[str, Any] = payload["repository"]
    ref: str = payload["ref"]
    names = tuple(v for v in (repository.get("full_name"), repository.get("clone_url")) if v)
    return Push(
        repositories=names,
        branch=ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None,
        after=payload["after"],
        deleted=bool(payload["deleted"]),
        private=bool(repository.get("private")),
    )


class Deliveries:
    """Delivery IDs seen within the last hour (in memory: one receiver process)."""

    def __init__(self, *, keep_seconds: float = SEEN_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._seen: dict[str, float] = {}

    def first_time(self, delivery: str, *, now: float | None = None) -> bool:
        """Record `delivery`; False when it was seen within `keep_seconds`."""
        current = time.monotonic() if now is None else now
        self._seen = {d: t for d, t in self._seen.items() if current - t < self.keep_seconds}
        if not delivery:  # no ID: a redelivery cannot be told apart
            return True
        if delivery in self._seen:
            return False
        self._seen[delivery] = current
        return True
