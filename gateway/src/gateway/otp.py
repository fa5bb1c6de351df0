"""Stateless one-time codes: derived from the phone number and the time window, so the gateway stores nothing."""

from __future__ import annotations

import hashlib
import hmac
import time

WINDOW_SECONDS = 300


class OtpCodes:
    """Six-digit codes valid in the window they were issued in and the one after it."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def _code(self, phone: str, window: int) -> str:
        digest = hmac.new(self._secret, f"otp:{phone}:{window}".encode(), hashlib.sha256).digest()
        return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"

    def issue(self, phone: str, *, now: float | None = None) -> str:
        """The code for `phone` in the current window."""
        return self._code(phone, _window(now))

    def verify(self, phone: str, code: str, *, now: float | None = None) -> bool:
        """True when `code` is the phone's code of the current or the previous window."""
        window = _window(now)
        matches = [hmac.compare_digest(code.encode(), self._code(phone, candidate).encode())
                   for candidate in (window, window - 1)]
        return any(matches)


def _window(now: float | None) -> int:
    return int((time.time() if now is None else now) // WINDOW_SECONDS)
