"""Tokens: the wrong audience is forbidden, a missing or expired token is unauthenticated, nothing is written."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from complaints_support import Count, complaint_body

from servicekit.auth import Audience, Role, TokenIssuer
from servicekit.testing.plugin import Tokens

PATH = "/v1/consumer/complaints"


async def test_a_merchant_token_may_not_file(client: httpx.AsyncClient, tokens: Tokens, count: Count) -> None:
    before = await count("complaint")
    headers = {"Authorization": f"Bearer {tokens.merchant('00000000-0000-0000-0000-000000000001')}"}

    response = await client.post(PATH, json=complaint_body(), headers=headers)

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert await count("complaint") == before


async def test_a_consumer_token_may_not_list_for_regulators(client: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await client.get("/v1/regulator/complaints", headers={"Authorization": f"Bearer {tokens.consumer()}"})

    assert response.status_code == 403


async def test_an_expired_token_is_unauthenticated(
    client: httpx.AsyncClient, token_issuer: TokenIssuer, count: Count,
) -> None:
    before = await count("complaint")
    expired = token_issuer.issue(sub="consumer-expired", aud=Audience.CONSUMER, roles=[Role.CONSUMER],
                                 ttl=timedelta(seconds=-30))

    response = await client.post(PATH, json=complaint_body(), headers={"Authorization": f"Bearer {expired}"})

    assert response.status_code == 401
    assert response.json()["detail"] == "The token has expired"
    assert "www-authenticate" in response.headers
    assert await count("complaint") == before


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt"])
async def test_no_valid_token_is_unauthenticated(client: httpx.AsyncClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = await client.get(PATH, headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
