"""Signatures: the body and the key both matter; timestamps expire."""

from __future__ import annotations

import json
import time

from streamlit_preview.signing import is_fresh, sign, sync_request, verify_signature


def test_signature_covers_body_and_key():
    body, headers = sync_request(b"key", "a" * 40)
    header = headers["X-Preview-Signature-256"]
    assert verify_signature(b"key", body, header)
    assert not verify_signature(b"other", body, header)
    assert not verify_signature(b"key", body + b" ", header)
    assert not verify_signature(b"key", body, None)
    assert not verify_signature(b"", body, sign(b"", body))
    assert json.loads(body)["sha"] == "a" * 40


def test_freshness_window():
    now = time.time()
    assert is_fresh(now - 299, now=now) and is_fresh(now + 299, now=now)
    assert not is_fresh(now - 301, now=now) and not is_fresh(now + 301, now=now)
    assert (
        not is_fresh("123", now=now) and not is_fresh(True, now=now) and not is_fresh(None, now=now)
    )
