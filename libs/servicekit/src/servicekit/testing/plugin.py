"""pytest plugin (loaded from pyproject): session-wide real PostgreSQL, real broker and a token issuer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from servicekit.auth import Audience, Role, TokenIssuer, generate_private_key_pem
from servicekit.testing.infra import TestInfra, start_test_infra

TEST_ISSUER = "odr-gateway"


@pytest.fixture(scope="session")
def test_infra() -> Iterator[TestInfra]:
    started = start_test_infra()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def database_url(test_infra: TestInfra) -> str:
    return test_infra.database_url


@pytest.fixture(scope="session")
def kafka_bootstrap(test_infra: TestInfra) -> str:
    return test_infra.kafka_bootstrap


@pytest.fixture(scope="session")
def token_signing_key() -> str:
    """The session's signing key (PEM), for a real gateway whose tokens the services under test must accept."""
    return generate_private_key_pem()


@pytest.fixture(scope="session")
def token_issuer(token_signing_key: str) -> TokenIssuer:
    return TokenIssuer(token_signing_key, TEST_ISSUER)


@pytest.fixture(scope="session")
def db_prefix() -> str:
    """Databases of this session are named odr_t<pid>_<service>, so parallel sessions never collide."""
    return f"odr_t{os.getpid()}"


class Tokens:
    """Mints tokens for each audience, as the gateway would."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer

    def consumer(self, sub: str = "consumer-1", **claims: Any) -> str:
        return self.issuer.issue(sub=sub, aud=Audience.CONSUMER, roles=[Role.CONSUMER], **claims)

    def merchant(self, merchant_id: Any, sub: str | None = None, **claims: Any) -> str:
        return self.issuer.issue(sub=sub or f"client-{merchant_id}", aud=Audience.MERCHANT, roles=[Role.ENTERPRISE],
                                 merchant_id=merchant_id, **claims)

    def regulator(self, region: str = "632801", sub: str = "reg-golmud", **claims: Any) -> str:
        return self.issuer.issue(sub=sub, aud=Audience.REGULATOR, roles=[Role.REGULATOR], region=region, **claims)


@pytest.fixture(scope="session")
def tokens(token_issuer: TokenIssuer) -> Tokens:
    return Tokens(token_issuer)
