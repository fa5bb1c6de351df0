"""Tokens: the gateway issues ES256 JWTs; every service verifies them again (audience, role, scope)."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from servicekit import regions
from servicekit.db import utcnow
from servicekit.problems import Problem, raises

ALGORITHM = "ES256"
# How long a verified token is trusted before its signature is checked again (never past its `exp`).
VERIFIED_TOKEN_SECONDS = 300.0


class Audience(StrEnum):
    CONSUMER = "consumer"
    MERCHANT = "merchant"
    REGULATOR = "regulator"


class Role(StrEnum):
    CONSUMER = "consumer"
    ENTERPRISE = "enterprise"
    # People of an ODR enterprise signed in to the portal: their tokens also carry `enterprise`, so they reach every
    # merchant endpoint an API client does; the admin alone manages colleagues, webhooks and credentials.
    ENTERPRISE_ADMIN = "enterprise_admin"
    ENTERPRISE_AGENT = "enterprise_agent"
    REGULATOR = "regulator"
    MEDIATOR = "mediator"
    STATION_STAFF = "station_staff"
    HOTLINE = "hotline"
    # Held beside `regulator` by a bureau's staff administrator: manages the staff accounts of its regions.
    STAFF_ADMIN = "staff_admin"
    # The only role of a short setup token: a staff member who must change the password or enrol TOTP before
    # signing in; no business endpoint accepts it.
    ACCOUNT_SETUP = "account_setup"


PORTAL_ROLES = frozenset({Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_AGENT})


class Principal(BaseModel):
    """Who is calling, as the token says."""

    model_config = ConfigDict(frozen=True)

    sub: str
    aud: Audience
    roles: frozenset[Role]
    region: str | None = None
    merchant_id: uuid.UUID | None = None
    station_id: uuid.UUID | None = None
    client_id: str | None = None

    @property
    def is_portal_user(self) -> bool:
        """A person signed in to the enterprise portal (an API client's token names its client instead)."""
        return bool(self.roles & PORTAL_ROLES)

    def governs(self, region_code: str) -> bool:
        """Staff act on their own region and every region below it (GB/T 2260 code prefixes)."""
        if not self.region:
            return False
        return regions.contains(self.region, region_code)


def consumer_subject(phone: str, key: str) -> str:
    """A consumer's stable pseudonymous token subject for a phone number; the number itself never enters a token."""
    return "c_" + hmac.new(key.encode(), f"sub:{phone}".encode(), hashlib.sha256).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    usable_until: float


class TokenVerifier:
    """Checks an ES256 token's signature, issuer and claims.

    With `cache_size`, a verified token's principal is kept (keyed by the whole token, so a changed byte is a new
    key) for at most `cache_seconds` and never past the token's `exp`: a signature check costs about 0.4 ms, and a
    client sends the same token on every request until it expires. Failures are never cached.
    """

    def __init__(self, public_key_pem: str, issuer: str, *, cache_size: int = 0, cache_seconds: float = 0.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem.encode()) if public_key_pem else None
        self._issuer = issuer
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._verified: dict[str, _Verified] = {}

    def verify(self, token: str) -> Principal:
        now = self._clock()
        cached = self._verified.get(token)
        if cached is not None:
            if now < cached.usable_until:
                return cached.principal
            del self._verified[token]
        principal, expires_at = self._verify_signed(token)
        # The library checks `exp` against the system time; this verifier's clock has the last word, so the cache
        # and the check agree on what "now" is.
        if expires_at <= now:
            raise Problem("unauthenticated", "The token has expired", headers=_challenge("invalid_token"))
        if self._cache_size > 0:
            if len(self._verified) >= self._cache_size:
                # Oldest first: dicts keep insertion order.
                del self._verified[next(iter(self._verified))]
            self._verified[token] = _Verified(principal, min(expires_at, now + self._cache_seconds))
        return principal

    def _verify_signed(self, token: str) -> tuple[Principal, float]:
        if self._key is None:
            raise Problem("unauthenticated", "Token verification is not configured")
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"], "verify_aud": False},
            )
            principal = Principal(
                sub=claims["sub"],
                aud=Audience(claims["aud"]),
                roles=frozenset(Role(role) for role in claims.get("roles", [])),
                region=claims.get("region"),
                merchant_id=claims.get("merchant_id"),
                station_id=claims.get("station_id"),
                client_id=claims.get("client_id"),
            )
            return principal, float(claims["exp"])
        except jwt.ExpiredSignatureError as exc:
            raise Problem("unauthenticated", "The token has expired", headers=_challenge("invalid_token")) from exc
        except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
            raise Problem("unauthenticated", "The token is not valid", headers=_challenge("invalid_token")) from exc


def _challenge(error: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer error="{error}"'}


class TokenIssuer:
    """Signs tokens; only the gateway (and tests) hold the private key."""

    def __init__(self, private_key_pem: str, issuer: str, key_id: str = "odr-1") -> None:
        self._key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        self._issuer = issuer
        self.key_id = key_id

    def issue(self, *, sub: str, aud: Audience, roles: list[Role], ttl: timedelta = timedelta(hours=1),
              **claims: Any) -> str:
        now = utcnow()
        payload = {
            "iss": self._issuer,
            "sub": sub,
            "aud": aud.value,
            "roles": [role.value for role in roles],
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": uuid.uuid4().hex,
            **{name: str(value) for name, value in claims.items() if value is not None},
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"kid": self.key_id})  # type: ignore[arg-type]

    def jwks(self) -> dict[str, Any]:
        public_key = self._key.public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)
        return {"keys": [{**jwk, "kid": self.key_id, "alg": ALGORITHM, "use": "sig"}]}

    def public_key_pem(self) -> str:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def generate_private_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem("unauthenticated", "Send an Authorization: Bearer token", headers=_challenge("invalid_request"))
    return token.strip()


def require(audience: Audience, *roles: Role) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """Dependency: a verified principal of this audience holding one of `roles` (any role if none given)."""

    @raises(401, 403)
    async def dependency(request: Request) -> Principal:
        verifier: TokenVerifier = request.app.state.token_verifier
        principal = verifier.verify(bearer_token(request))
        if principal.aud != audience:
            raise Problem("forbidden", f"This endpoint is for the {audience.value} audience")
        if roles and not principal.roles.intersection(roles):
            raise Problem("forbidden", "The token lacks the role this endpoint needs")
        return principal

    return dependency


ConsumerPrincipal = Annotated[Principal, Depends(require(Audience.CONSUMER, Role.CONSUMER))]
MerchantPrincipal = Annotated[Principal, Depends(require(Audience.MERCHANT, Role.ENTERPRISE))]
# Station staff share the staff audience but act only through their own station endpoints.
RegulatorPrincipal = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.REGULATOR, Role.MEDIATOR))]
# Decisions on a case (accept, refuse, route, transfer, a report's verification) and the full personal data of a case
# in the region: regulators only. A mediator acts on the cases assigned to it, through mediation (issue 14 item 6).
BureauPrincipal = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.REGULATOR))]


@raises(403)
async def require_internal(request: Request) -> None:
    """Dependency for /internal endpoints: only callers holding the shared internal token."""
    settings = request.app.state.runtime.settings
    presented = request.headers.get("x-internal-token", "")
    if not hmac.compare_digest(presented.encode(), settings.internal_token.get_secret_value().encode()):
        raise Problem("forbidden", "Internal endpoint")
