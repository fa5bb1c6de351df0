"""Refresh-token sessions, kept by the merchants service (the gateway has no database), and the browser's cookie.

The gateway opens a family at each consumer, staff or portal-user sign-in (`POST /internal/v1/sessions`), exchanges
a refresh token for the next one and the claims of a new access token (`…/refresh`), and ends a family
(`…/revoke`).

**Where a browser keeps the refresh token.** A screen served by this gateway (the consumer app, the console, the
station desk, the enterprise portal) asks for
cookie delivery with the header `X-Session-Cookie: <audience>`. The refresh token then never reaches JavaScript: it
travels in an HttpOnly cookie `odr_refresh_<audience>`, `SameSite=Strict`, `Path=/auth` (sent to the token and
revoke endpoints only, never with API calls), `Secure` when the request came over TLS; the page keeps only the
15-minute access token. A script injected into the page can use the session while it runs, but cannot carry the
refresh token away. A consumer's cookie lasts as long as the refresh token (the app stays signed in across browser
restarts); a staff member's is a session cookie, gone when the browser closes (shared office computers).

**CSRF.** A request carrying the cookie can only rotate or end the session, and its answer (the new access token) is
readable only by the gateway's own origin. Three things stop a foreign page from even making it: SameSite=Strict
(the browser does not attach the cookie to a cross-site request), the custom header (a cross-origin fetch with it
needs a CORS preflight that only `ODR_CORS_ORIGINS` pass, and a form cannot set headers) and `Sec-Fetch-Site:
cross-site` being refused outright.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import httpx
from fastapi import Request
from pydantic import BaseModel, ValidationError

from gateway.runtime import GatewayRuntime
from servicekit.auth import Audience
from servicekit.observability import get_logger
from servicekit.problems import Problem

SESSIONS_PATH = "/internal/v1/sessions"
COOKIE_HEADER = "x-session-cookie"
COOKIE_PATH = "/auth"
COOKIE_AUDIENCES = (Audience.CONSUMER, Audience.REGULATOR, Audience.MERCHANT)
# `merchant` sessions are the portal's people only: an enterprise's machine clients sign in again instead.
SESSION_KINDS = {Audience.CONSUMER: "consumer", Audience.REGULATOR: "staff", Audience.MERCHANT: "merchant_portal"}

log = get_logger("gateway.sessions")


class SessionClaims(BaseModel):
    sub: str
    aud: Audience
    roles: list[str]
    region: str | None = None
    station_id: uuid.UUID | None = None
    merchant_id: uuid.UUID | None = None


class SessionIssued(BaseModel):
    """The merchants service's answer: the next refresh token and what the access token says."""

    family_id: uuid.UUID
    refresh_token: str
    refresh_expires_in: int
    claims: SessionClaims


class CookieModeRefused(ValueError):
    """The request asked for the session cookie in a way that is not allowed."""


def cookie_audience(request: Request) -> Audience | None:
    """The audience whose cookie the request uses (header `X-Session-Cookie`), None when it keeps the token itself."""
    named = request.headers.get(COOKIE_HEADER)
    if named is None:
        return None
    if named not in {audience.value for audience in COOKIE_AUDIENCES}:
        raise CookieModeRefused("X-Session-Cookie must be consumer, regulator or merchant")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CookieModeRefused("The session cookie is not used for cross-site requests")
    return Audience(named)


def cookie_name(audience: Audience) -> str:
    return f"odr_refresh_{audience.value}"


def cookie_token(request: Request, audience: Audience) -> str | None:
    return request.cookies.get(cookie_name(audience)) or None


def cookie_header(request: Request, audience: Audience, token: str, *, max_age: int | None) -> str:
    """A Set-Cookie value; `max_age` None makes a session cookie, 0 deletes it."""
    jar: SimpleCookie = SimpleCookie()
    name = cookie_name(audience)
    jar[name] = token
    morsel = jar[name]
    morsel["path"] = COOKIE_PATH
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    if request.url.scheme == "https":
        morsel["secure"] = True
    if max_age is not None:
        morsel["max-age"] = max_age
    return morsel.OutputString()


def cookie_lifetime(audience: Audience, issued: SessionIssued) -> int | None:
    """A consumer's cookie lasts as long as the token; a staff member's ends with the browser."""
    return issued.refresh_expires_in if audience == Audience.CONSUMER else None


@dataclass(frozen=True)
class Refused:
    """The merchants service refused the exchange (unknown, expired, revoked, reused token, or disabled account)."""


async def start(runtime: GatewayRuntime, *, audience: Audience, subject: str) -> SessionIssued:
    """Open a family for a verified consumer, staff or portal-user sign-in."""
    answer = await _call(runtime, SESSIONS_PATH, {"kind": SESSION_KINDS[audience], "subject": subject})
    if answer.status_code == 401:
        raise Problem("unauthenticated", "This account may not sign in")
    return _issued(answer, expected=201)


async def rotate(runtime: GatewayRuntime, refresh_token: str) -> SessionIssued | Refused:
    """The next refresh token and the claims of a new access token, or Refused."""
    answer = await _call(runtime, SESSIONS_PATH + "/refresh", {"refresh_token": refresh_token})
    if answer.status_code in (401, 422):
        return Refused()
    return _issued(answer, expected=200)


async def revoke(runtime: GatewayRuntime, refresh_token: str) -> None:
    """End the token's family; unknown and malformed tokens change nothing (RFC 7009)."""
    answer = await _call(runtime, SESSIONS_PATH + "/revoke", {"refresh_token": refresh_token})
    if answer.status_code not in (204, 422):
        log.warning("session revocation failed", status=answer.status_code)
        raise Problem("upstream-unavailable", "Sessions are unavailable", service="merchants")


async def _call(runtime: GatewayRuntime, path: str, payload: dict[str, Any]) -> httpx.Response:
    settings = runtime.settings
    try:
        return await runtime.internal_client.post(
            settings.merchants_url.rstrip("/") + path, json=payload,
            headers={"X-Internal-Token": settings.internal_token.get_secret_value()},
            timeout=settings.internal_call_timeout,
        )
    except httpx.TimeoutException as exc:
        raise Problem("upstream-timeout", "Sessions did not answer in time", service="merchants") from exc
    except httpx.HTTPError as exc:
        raise Problem("upstream-unavailable", "Sessions are unavailable", service="merchants") from exc


def _issued(answer: httpx.Response, *, expected: int) -> SessionIssued:
    if answer.status_code != expected:
        log.warning("session call failed", status=answer.status_code)
        raise Problem("upstream-unavailable", "Sessions are unavailable", service="merchants")
    try:
        return SessionIssued.model_validate_json(answer.content)
    except ValidationError as exc:
        log.error("sessions answered an unexpected shape", errors=exc.errors(include_input=False))
        raise Problem("internal-error", "Sessions answered an unexpected shape") from exc
