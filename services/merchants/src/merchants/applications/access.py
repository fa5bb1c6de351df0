"""The applicant's own way into its application, without an account.

Applying hands out a status token (kept only as its SHA-256). With it the applicant reads the application's status;
once approved, the status also carries a one-time credentials token, derived from the status token
(HMAC-SHA256 keyed by it), so only the holder of the status token can learn it and the platform keeps only its hash.
Presenting it once, before it expires, issues the enterprise's first API client: the secret is shown in that answer
and nowhere else. The regulator who approves never sees either token nor the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256, hex (the tokens are random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def matches(stored: str | None, token: str) -> bool:
    """True when `token` is the one whose digest was stored (compared in constant time)."""
    return stored is not None and hmac.compare_digest(stored, digest(token))


def retrieval_token(status_token: str, application_id: uuid.UUID) -> str:
    """The one-time credentials token of an application, as only the holder of its status token can compute it."""
    mac = hmac.new(status_token.encode(), f"odr-credentials:{application_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
