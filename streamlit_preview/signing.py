"""HMAC signing of `/sync` requests, shared by the reloader and everything that calls it.

The signature covers the raw body, and the body carries a unix timestamp, so a captured
request stops working after `MAX_SKEW_SECONDS`. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

SIGNATURE_HEADER = "X-Preview-Signature-256"
MAX_SKEW_SECONDS = 300
_SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")


def sign(secret: bytes, body: bytes) -> str:
    """Return the header value (`sha256=<hex>`) for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body`; compared in constant time."""
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def is_fresh(timestamp: object, *, now: float | None = None) -> bool:
    """True when `timestamp` is a number within `MAX_SKEW_SECONDS` of now."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return False
    current = time.time() if now is None else now
    try:
        return abs(current - float(timestamp)) <= MAX_SKEW_SECONDS  # NaN compares False
    except OverflowError:  # an integer too large for a float
        return False


def is_commit_sha(value: object) -> bool:
    """True for a full 40-hex lower-case commit id."""
    return isinstance(value, str) and bool(_SHA_PATTERN.match(value))


def sync_request(
    secret: bytes, sha: str | None = None, *, git_token: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """Build the body and headers of a signed `/sync` request.

    `git_token` (optional, private repositories) replaces the reloader's git credential:
    a workflow's token dies with its job, so each sync brings the current one.
    """
    payload: dict[str, object] = {"timestamp": int(time.time())}
    if sha:
        payload["sha"] = sha
    if git_token:
        payload["git_token"] = git_token
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"}
    return body, headers


TIMESTAMP_HEADER = "X-Preview-Timestamp"


def _status_message(timestamp: str) -> bytes:
    return f"GET /status?detail=1\n{timestamp}".encode()


def status_request_headers(secret: bytes) -> dict[str, str]:
    """Headers of a signed `GET /status?detail=1` (the full detail: app and setup output)."""
    timestamp = str(int(time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, _status_message(timestamp))}


def verify_status_request(secret: bytes, timestamp: str | None, signature: str | None) -> bool:
    """True for a fresh, correctly signed `GET /status?detail=1`."""
    if not timestamp or not timestamp.isdigit() or not is_fresh(int(timestamp)):
        return False
    return verify_signature(secret, _status_message(timestamp), signature)
