"""RFC 6238 time-based one-time codes (SHA-1, 6 digits, 30 s steps, one step of drift either way).

The code of a step is accepted only for a step later than the last one accepted, so a code seen over a shoulder or in
a log cannot be used again within its window.
"""

from __future__ import annotations

import base64
import hmac
import secrets

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, the length RFC 4226 recommends for SHA-1
ISSUER = "ODR 12315"


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def _totp(secret: bytes) -> TOTP:
    # SHA-1: what RFC 6238 authenticator apps implement.
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS)


def base32(secret: bytes) -> str:
    """The secret as authenticator apps take it typed in: base32 without padding."""
    return base64.b32encode(secret).decode().rstrip("=")


def provisioning_uri(secret: bytes, username: str) -> str:
    """otpauth://totp/… for a QR code."""
    return _totp(secret).get_provisioning_uri(username, ISSUER)


def step_at(unix_time: float) -> int:
    return int(unix_time) // STEP_SECONDS


def code_for_step(secret: bytes, step: int) -> str:
    return _totp(secret).generate(step * STEP_SECONDS).decode()


def accepted_step(secret: bytes, code: str, *, unix_time: float, after_step: int | None) -> int | None:
    """The step within the drift window whose code this is, if later than `after_step`; else None."""
    current = step_at(unix_time)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(code_for_step(secret, step).encode(), code.encode()):
            return step
    return None
