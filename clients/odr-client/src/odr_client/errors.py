"""Errors the client raises: API problems (RFC 9457), failed sign-in, and webhooks that do not verify."""

from __future__ import annotations

from typing import Any

import httpx


class OdrApiError(Exception):
    """The platform answered with an error; `problem` is its RFC 9457 body (empty if it sent none)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type: str = problem.get("type", "about:blank")
        self.detail: str | None = problem.get("detail")
        super().__init__(f"HTTP {status} {self.type}: {problem.get('detail') or problem.get('title') or ''}".strip())

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Field-level details of a validation problem."""
        errors: list[dict[str, Any]] = self.problem.get("errors", [])
        return errors

    @classmethod
    def from_response(cls, response: httpx.Response) -> OdrApiError:
        """The error for a non-2xx response."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        return cls(response.status_code, body if isinstance(body, dict) else {})


class OdrAuthError(OdrApiError):
    """The token endpoint refused the client credentials (wrong, revoked, or the enterprise is suspended)."""


class WebhookVerificationError(Exception):
    """The webhook's signature, timestamp or headers do not check out: do not act on it."""
