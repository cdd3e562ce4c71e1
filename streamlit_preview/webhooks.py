"""GitHub webhook deliveries: verify, parse, decide. Pure, no I/O.

The receiver (`hook.py`) calls these in order: `verify_delivery` on the raw bytes before
anything is parsed, `parse_delivery`, and `Deliveries.first_time` so that a delivery
redelivered by hand (or through the API) is not applied twice.

Only the fields the receiver uses are checked, with the types GitHub really sends (nulls
included: `base_ref`, `head_commit`, `mirror_url` are null in most real deliveries); the rest
of the payload is ignored, as Argo CD's and Flux's receivers do. GitHub's OpenAPI schemas are
not used: they are OpenAPI 3.0, whose `nullable` a JSON Schema validator ignores, and they
require fields that GitHub Enterprise Server and older payloads do not send.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from .signing import sign, verify_signature

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
MAX_BODY_BYTES = 5 * 1024 * 1024  # GitHub caps payloads at 25 MB; a push is far smaller
SEEN_SECONDS = 3600
_SHA = re.compile(r"[0-9a-f]{40}")


class BadDelivery(ValueError):
    """A delivery that lacks what the receiver needs; the message is one line."""


def signature_of(secret: bytes, body: bytes) -> str:
    """`X-Hub-Signature-256` as GitHub computes it: the same HMAC-SHA256 as our `/sync`."""
    return sign(secret, body)


def verify_delivery(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` signs `body` with `secret`; compared in constant time."""
    return verify_signature(secret, body, header)


@dataclass(frozen=True)
class Push:
    """What a push means for previews."""

    repositories: tuple[str, ...]  # full_name and clone_url: either names the repository
    branch: str | None  # None for a tag push
    after: str
    deleted: bool
    private: bool
    forced: bool = False


def _field(payload: dict[str, Any], name: str, kind: type, *, where: str = "") -> Any:
    value = payload.get(name)
    if not isinstance(value, kind) or (kind is str and not value):
        expected = {str: "a non-empty string", bool: "true or false", dict: "an object"}[kind]
        got = "missing" if name not in payload else f"{type(value).__name__}"
        raise BadDelivery(
            f"not a GitHub push payload: {where}{name} must be {expected} (got {got})"
        )
    return value


def parse_delivery(event: str, body: bytes) -> Push | None:
    """A `push` as a `Push`; None for a `ping`; `BadDelivery` (one line) when the body lacks
    what is needed."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadDelivery("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadDelivery("the body is not a JSON object")
    if event != "push":
        return None  # a ping: an organisation hook's has no repository, and none is needed
    ref: str = _field(payload, "ref", str)
    after: str = _field(payload, "after", str)
    if not _SHA.fullmatch(after):
        raise BadDelivery("not a GitHub push payload: after must be a 40-hex commit")
    repository: dict[str, Any] = _field(payload, "repository", dict)
    full_name = _field(repository, "full_name", str, where="repository/")
    clone_url = repository.get("clone_url")
    names = (full_name, clone_url) if isinstance(clone_url, str) and clone_url else (full_name,)
    return Push(
        repositories=names,
        branch=ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None,
        after=after,
        deleted=payload.get("deleted") is True or after == "0" * 40,
        private=repository.get("private") is True,
        forced=payload.get("forced") is True,
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
