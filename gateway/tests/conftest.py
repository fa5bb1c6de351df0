"""Fixtures: stand-in services and the gateway, each served by uvicorn on a free port."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from gateway_testkit import ServerThread, Upstreams, fake_service, gateway_settings

from gateway.main import create_app
from servicekit.auth import TokenIssuer, generate_private_key_pem


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    services = []
    for name in ("complaints", "merchants", "mediation"):
        service, app = fake_service(name)
        service.server = ServerThread(app).start()
        services.append(service)
    yield Upstreams(*services)
    for service in services:
        assert service.server is not None
        service.server.stop()


@pytest.fixture(scope="session")
def signing_key() -> str:
    return generate_private_key_pem()


@pytest.fixture(scope="session")
def gateway_issuer(signing_key: str) -> TokenIssuer:
    """Mints tokens with the gateway's own key (for expired or foreign-audience tokens)."""
    return TokenIssuer(signing_key, "odr-gateway")


@pytest.fixture(scope="session")
def gateway_url(upstreams: Upstreams, signing_key: str) -> Iterator[str]:
    server = ServerThread(create_app(gateway_settings(upstreams, signing_key))).start()
    yield server.url
    server.stop()


@pytest.fixture
async def gateway(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def probe() -> str:
    """A marker to put in a query string and look for upstream."""
    return f"probe={uuid.uuid4().hex}"


