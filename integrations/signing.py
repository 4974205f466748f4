"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<raw body>" with the subscriber's secret.

Receivers check the signature against the raw bytes they got (before any JSON parsing) and refuse
a timestamp older or newer than the tolerance, so a captured request cannot be replayed later.
`verify` is the snippet docs/integrating.md shows; it has no Django imports so it can be copied as is.
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "O2O-Signature"
TIMESTAMP_HEADER = "O2O-Timestamp"
EVENT_ID_HEADER = "O2O-Event-Id"
SCHEME = "v1"


def compute_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of f"{timestamp}." + body under `secret`."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int | str, body: bytes) -> str:
    """The O2O-Signature header value: "v1=<hex>"."""
    return f"{SCHEME}={compute_signature(secret, timestamp, body)}"


def verify(
    secret: str, timestamp: int | str, body: bytes, signature: str, tolerance: int = 300, now=None
) -> bool:
    """True when `signature` (the O2O-Signature header) signs `body` at `timestamp` with `secret`
    and the timestamp is within `tolerance` seconds of now.

    The header may carry several comma-separated "v1=" values (while a secret is being rotated);
    any one matching is enough. Comparison is constant-time."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    expected = compute_signature(secret, sent_at, body)
    for part in (signature or "").split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == SCHEME and hmac.compare_digest(value, expected):
            return True
    return False
