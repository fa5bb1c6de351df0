"""`/auth/otp`, `/auth/token` (grants otp, password, client_credentials, refresh_token), `/auth/revoke` and the JWKS
that verifies the tokens."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway import sessions, sign_in_codes
from gateway.otp import WINDOW_SECONDS
from gateway.proxy import client_address, read_body
from gateway.runtime import GatewayRuntime, get_runtime
from servicekit.auth import Audience, Role, consumer_subject
from servicekit.observability import get_logger
from servicekit.problems import CATALOG, Problem, problem_responses, raises

PHONE_PATTERN = r"^1[3-9]\d{9}$"
AUTH_BODY_LIMIT = 16 * 1024
CREDENTIALS_VERIFY_PATH = "/internal/v1/credentials/verify"
# A setup token only lets its holder change the password and enrol TOTP (role account_setup).
SETUP_TOKEN_SECONDS = 600

# OAuth 2.0 error codes (RFC 6749 §5.2) as problem types; the code itself travels in the "error" extension.
OAUTH_ERRORS: dict[str, tuple[str, int, str, str]] = {
    "invalid_request": ("invalid-request", 400, "The token request is incomplete or malformed",
                        "令牌请求不完整或格式错误"),
    "invalid_grant": ("invalid-grant", 400, "The code or credentials are not valid", "验证码或凭据无效"),
    "invalid_client": ("invalid-client", 401, "The client credentials are not valid", "客户端凭据无效"),
    "unsupported_grant_type": ("unsupported-grant-type", 400, "This grant type is not supported", "不支持该授权类型"),
}
for _slug, _status, _english, _chinese in OAUTH_ERRORS.values():
    CATALOG.setdefault(_slug, (_status, _english, _chinese))

log = get_logger("gateway.tokens")
router = APIRouter(tags=["auth"], generate_unique_id_function=lambda route: route.name)
Runtime = Annotated[GatewayRuntime, Depends(get_runtime)]


def oauth_error(error: str, detail: str, *, headers: dict[str, str] | None = None) -> Problem:
    slug, _, _, _ = OAUTH_ERRORS[error]
    return Problem(slug, detail, headers=headers, error=error)


class OtpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(pattern=PHONE_PATTERN, description="Mainland mobile number", examples=["13800138000"])


class OtpIssued(BaseModel):
    expires_in: int
    dev_code: str | None = Field(default=None,
                                 description="Only in dev mode (the development SMS sender delivers nothing)")


class TokenIssued(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str | None = Field(
        default=None, description=("Consumers, staff and portal users; absent when the session cookie carries it "
                                   "(X-Session-Cookie) and for client_credentials"))
    refresh_expires_in: int | None = None


class TokenRequest(BaseModel):
    """Fields of the four grants; sent as a form (OAuth 2.0) or as JSON."""

    grant_type: str = Field(description="otp | password | client_credentials | refresh_token")
    phone: str | None = None
    code: str | None = None
    username: str | None = None
    password: str | None = None
    totp: str | None = Field(default=None, description=(
        "password grant: the authenticator's current code, required once the account has TOTP (without it the "
        "answer is 403 mfa-required)"))
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None


class RevokeRequest(BaseModel):
    """RFC 7009: the refresh token to revoke (an access token is not revocable: it lapses within 15 minutes)."""

    token: str
    token_type_hint: str | None = None


class VerifiedCredentials(BaseModel):
    """The merchants service's answer to a credential check."""

    sub: str
    aud: Audience
    roles: list[Role]
    region: str | None = None
    merchant_id: uuid.UUID | None = None
    station_id: uuid.UUID | None = None
    client_id: str | None = None
    setup_required: list[str] = Field(default_factory=list)


@raises(429)
def limit_auth_requests(request: Request, runtime: Runtime) -> None:
    """Dependency: per-address token bucket over every /auth endpoint."""
    runtime.auth_limits.take_or_refuse(client_address(request), "Too many sign-in requests from this address")


RateLimited = [Depends(limit_auth_requests)]


@router.post(
    "/auth/otp",
    status_code=202,
    response_model=OtpIssued,
    response_model_exclude_none=True,
    summary="Send a one-time sign-in code to a phone",
    dependencies=RateLimited,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": OtpRequest.model_json_schema()}}}},
)
async def request_otp(request: Request, runtime: Runtime) -> OtpIssued:
    """Issue the phone's current code (returned only in dev mode)."""
    raw = await read_body(request, AUTH_BODY_LIMIT)
    try:
        otp_request = OtpRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]) from exc
    code = runtime.otp.issue(otp_request.phone)
    await sign_in_codes.queue(runtime, phone=otp_request.phone, code=code, client_address=client_address(request))
    return OtpIssued(expires_in=WINDOW_SECONDS, dev_code=code if runtime.settings.is_dev else None)


@router.post(
    "/auth/token",
    response_model=TokenIssued,
    summary="Exchange a code or credentials for an access token",
    dependencies=RateLimited,
    responses=problem_responses(400, 401, 403, 429, 503),
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": TokenRequest.model_json_schema()},
        "application/json": {"schema": TokenRequest.model_json_schema()},
    }}},
)
async def issue_token(request: Request, runtime: Runtime) -> JSONResponse:
    """OAuth 2.0 token endpoint: grant_type otp (consumers), password (staff and enterprise portal users),
    client_credentials (enterprises' machine clients: an hour, no refresh token), refresh_token (consumers, staff and
    portal users: rotates the refresh token; a reused one revokes its whole session).

    A staff account with TOTP answers 403 `mfa-required` until the request carries `totp`; one that must change its
    password or enrol TOTP answers 403 `account-setup-required` with a short `setup_token` for that."""
    fields = await _token_fields(request)
    grant_type = fields.get("grant_type")
    cookie_audience = _cookie_audience(request)
    refreshed: sessions.SessionIssued | None = None
    if grant_type == "refresh_token":
        refreshed = await _refresh_grant(request, runtime, fields, cookie_audience)
        credentials = VerifiedCredentials.model_validate(refreshed.claims.model_dump())
    elif grant_type == "otp":
        credentials = _otp_grant(runtime, fields)
    elif grant_type == "password":
        username, password = _required(fields, "username", "password")
        grant = {"grant_type": "password", "username": username, "password": password}
        credentials = await _verify_with_merchants(
            runtime, grant | ({"totp": fields["totp"]} if fields.get("totp") else {}), failure="invalid_grant"
        )
        if credentials.aud == Audience.CONSUMER:
            raise oauth_error("invalid_grant", "Staff accounts cannot act as consumers")
        if credentials.setup_required:
            raise _setup_required(runtime, credentials)
    elif grant_type == "client_credentials":
        client_id, client_secret = _required(_with_basic_client(request, fields), "client_id", "client_secret")
        credentials = await _verify_with_merchants(
            runtime, {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
            failure="invalid_client",
        )
        if credentials.aud != Audience.MERCHANT:
            raise oauth_error("invalid_client", "Client credentials are for enterprises only")
    elif not grant_type:
        raise oauth_error("invalid_request", "grant_type is required")
    else:
        raise oauth_error("unsupported_grant_type",
                          "grant_type must be otp, password, client_credentials or refresh_token")
    # Enterprises' machine clients sign in again with their credentials instead of refreshing (OAuth practice); the
    # portal's people (password grant, no client id) get a session like staff.
    if credentials.aud == Audience.MERCHANT and credentials.client_id is not None:
        ttl = runtime.settings.client_token_ttl_seconds
        session = None
    else:
        ttl = runtime.settings.access_token_ttl_seconds
        if cookie_audience is not None and cookie_audience != credentials.aud:
            raise oauth_error("invalid_request", "X-Session-Cookie names another audience than the sign-in's")
        session = refreshed or await sessions.start(runtime, audience=credentials.aud, subject=credentials.sub)
    token = runtime.issuer.issue(
        sub=credentials.sub, aud=credentials.aud, roles=credentials.roles, ttl=timedelta(seconds=ttl),
        region=credentials.region, merchant_id=credentials.merchant_id, station_id=credentials.station_id,
        client_id=credentials.client_id,
    )
    issued = TokenIssued(access_token=token, expires_in=ttl)
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if session is not None and cookie_audience is not None:
        headers["Set-Cookie"] = sessions.cookie_header(request, cookie_audience, session.refresh_token,
                                                       max_age=sessions.cookie_lifetime(cookie_audience, session))
    elif session is not None:
        issued.refresh_token = session.refresh_token
        issued.refresh_expires_in = session.refresh_expires_in
    return JSONResponse(issued.model_dump(exclude_none=True), headers=headers)


@router.post(
    "/auth/revoke",
    summary="Revoke a refresh token's session (sign out)",
    dependencies=RateLimited,
    # The answer has no body: the document must not promise a JSON one.
    response_class=Response,
    responses={200: {"description": "Revoked, or the token was unknown (RFC 7009 answers both alike)"}},
    openapi_extra={"requestBody": {"required": False, "content": {
        "application/x-www-form-urlencoded": {"schema": RevokeRequest.model_json_schema()},
        "application/json": {"schema": RevokeRequest.model_json_schema()},
    }}},
)
async def revoke_token(request: Request, runtime: Runtime) -> Response:
    """RFC 7009: ends the whole session (every refresh token rotated from the same sign-in) of the given refresh
    token, or of the session cookie (`X-Session-Cookie`, which is deleted too); always 200 for unknown tokens."""
    cookie_audience = _cookie_audience(request)
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if cookie_audience is not None:
        token = sessions.cookie_token(request, cookie_audience)
        headers["Set-Cookie"] = sessions.cookie_header(request, cookie_audience, "", max_age=0)
    else:
        (token,) = _required(await _token_fields(request), "token")
    if token:
        await sessions.revoke(runtime, token)
    return Response(status_code=200, headers=headers)


def _setup_required(runtime: GatewayRuntime, credentials: VerifiedCredentials) -> Problem:
    """The password was right but a password change or TOTP enrolment is owed: a 403 carrying a short token that
    only the staff member's own setup endpoints accept (`/v1/regulator/staff/me…`); then sign in again."""
    token = runtime.issuer.issue(sub=credentials.sub, aud=Audience.REGULATOR, roles=[Role.ACCOUNT_SETUP],
                                 ttl=timedelta(seconds=SETUP_TOKEN_SECONDS), region=credentials.region)
    return Problem("account-setup-required", "Finish the steps in setup_required with setup_token, then sign in",
                   headers={"Cache-Control": "no-store"}, error="account_setup_required",
                   setup_required=credentials.setup_required, setup_token=token, expires_in=SETUP_TOKEN_SECONDS)


def _problem_type(answer: httpx.Response) -> str | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


@router.get("/.well-known/jwks.json", summary="Public keys that verify the gateway's tokens")
async def jwks(runtime: Runtime) -> dict[str, Any]:
    """The JSON Web Key Set of the token-signing key."""
    return runtime.issuer.jwks()


async def _token_fields(request: Request) -> dict[str, str]:
    raw = await read_body(request, AUTH_BODY_LIMIT)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(raw.decode(), strict_parsing=bool(raw)))
        except (UnicodeDecodeError, ValueError) as exc:
            raise oauth_error("invalid_request", "The form body could not be parsed") from exc
    if media_type == "application/json":
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise oauth_error("invalid_request", "The body is not valid JSON") from exc
        if not isinstance(parsed, dict):
            raise oauth_error("invalid_request", "The body must be a JSON object")
        return {name: value for name, value in parsed.items() if isinstance(value, str)}
    raise oauth_error("invalid_request", "Send application/x-www-form-urlencoded (or application/json)")


def _cookie_audience(request: Request) -> Audience | None:
    try:
        return sessions.cookie_audience(request)
    except sessions.CookieModeRefused as exc:
        raise oauth_error("invalid_request", str(exc)) from exc


async def _refresh_grant(request: Request, runtime: GatewayRuntime, fields: dict[str, str],
                         cookie_audience: Audience | None) -> sessions.SessionIssued:
    if cookie_audience is None:
        (refresh_token,) = _required(fields, "refresh_token")
    else:
        refresh_token = sessions.cookie_token(request, cookie_audience) or ""
    rotated = await sessions.rotate(runtime, refresh_token) if refresh_token else sessions.Refused()
    if isinstance(rotated, sessions.Refused):
        headers = ({"Set-Cookie": sessions.cookie_header(request, cookie_audience, "", max_age=0)}
                   if cookie_audience is not None else None)
        raise oauth_error("invalid_grant", "The refresh token is not valid", headers=headers)
    if cookie_audience is not None and rotated.claims.aud != cookie_audience:
        raise oauth_error("invalid_grant", "The refresh token belongs to another audience")
    return rotated


def _required(fields: dict[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not fields.get(name)]
    if missing:
        raise oauth_error("invalid_request", f"Missing parameter(s): {', '.join(missing)}")
    return [fields[name] for name in names]


def _with_basic_client(request: Request, fields: dict[str, str]) -> dict[str, str]:
    """OAuth clients may send client_id/client_secret as HTTP Basic credentials instead of body fields."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or fields.get("client_id"):
        return fields
    try:
        client_id, _, client_secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise oauth_error("invalid_client", "The Basic credentials are malformed") from exc
    return {**fields, "client_id": client_id, "client_secret": client_secret}


def _otp_grant(runtime: GatewayRuntime, fields: dict[str, str]) -> VerifiedCredentials:
    phone, code = _required(fields, "phone", "code")
    if not re.fullmatch(PHONE_PATTERN, phone):
        raise oauth_error("invalid_request", "phone must be a mainland mobile number")
    # Caps guessing per number even when the guesses come from many addresses.
    runtime.otp_attempts.take_or_refuse(phone, "Too many code attempts for this phone number")
    if not runtime.otp.verify(phone, code):
        raise oauth_error("invalid_grant", "The code is wrong or has expired")
    subject = consumer_subject(phone, runtime.settings.subject_key.get_secret_value())
    return VerifiedCredentials(sub=subject, aud=Audience.CONSUMER, roles=[Role.CONSUMER])


async def _verify_with_merchants(runtime: GatewayRuntime, payload: dict[str, str], *,
                                 failure: str) -> VerifiedCredentials:
    settings = runtime.settings
    try:
        answer = await runtime.internal_client.post(
            settings.merchants_url.rstrip("/") + CREDENTIALS_VERIFY_PATH,
            json=payload,
            headers={"X-Internal-Token": settings.internal_token.get_secret_value()},
            timeout=settings.internal_call_timeout,
        )
    except httpx.TimeoutException as exc:
        raise Problem("upstream-timeout", "The credential check did not answer in time", service="merchants") from exc
    except httpx.HTTPError as exc:
        raise Problem("upstream-unavailable", "The credential check is unavailable", service="merchants") from exc
    if answer.status_code == 401:
        raise oauth_error(failure, "The credentials are not valid")
    if answer.status_code == 403 and _problem_type(answer) == "/problems/mfa-required":
        raise Problem("mfa-required", "Repeat the request with the authenticator's code as `totp`",
                      error="mfa_required")
    if answer.status_code != 200:
        log.warning("credential check failed", status=answer.status_code)
        raise Problem("upstream-unavailable", "The credential check is unavailable", service="merchants")
    try:
        return VerifiedCredentials.model_validate_json(answer.content)
    except ValidationError as exc:
        log.error("credential check answered an unexpected shape", errors=exc.errors(include_input=False))
        raise Problem("internal-error", "The credential check answered an unexpected shape") from exc
