"""HMAC signatures of both webhooks, always compared in constant time over the raw bytes."""
from __future__ import annotations

import hashlib
import hmac

MAX_EVENT_SKEW_SECONDS = 300


def sign(secret: str, data: bytes) -> str:
    """`sha256=<hex>`, the header value both Meta and our Trading Grid contract use."""
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def whatsapp_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Meta's `X-Hub-Signature-256` over the raw body, keyed by the app secret."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())


def tradinggrid_payload(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode() + b"." + body


def tradinggrid_valid(secret: str, body: bytes, timestamp: str | None, header: str | None, now: float) -> bool:
    """`X-TG-Signature` over "<timestamp>.<body>", refused when the timestamp is 300 s off now."""
    if not secret or not header or not timestamp:
        return False
    try:
        skew = abs(now - int(timestamp.strip()))
    except ValueError:
        return False
    if skew > MAX_EVENT_SKEW_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, tradinggrid_payload(timestamp.strip(), body)), header.strip())
