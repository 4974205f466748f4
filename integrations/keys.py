"""The key format: `<prefix>.<secret>`. The prefix (8 chars) is stored in clear to find the row and
to tell keys apart; only the SHA-256 of the secret is stored. Keys are 256-bit random, so a fast
hash is right (no password stretching needed) and comparison is constant-time."""

import hashlib
import hmac
import secrets

PREFIX_LENGTH = 8
SECRET_BYTES = 32  # token_urlsafe(32) -> 43 characters


def key_generate() -> tuple[str, str, str]:
    """A fresh key: (prefix, secret, plaintext) where plaintext = prefix.secret."""
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return prefix, secret, f"{prefix}.{secret}"


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_split(plaintext: str) -> tuple[str, str] | None:
    """(prefix, secret) of a presented key, or None when it is not of our format."""
    prefix, dot, secret = (plaintext or "").strip().partition(".")
    if not dot or len(prefix) != PREFIX_LENGTH or not secret or len(secret) > 200:
        return None
    return prefix, secret


def key_matches(secret: str, hashed: str) -> bool:
    return hmac.compare_digest(key_hash(secret), hashed)
