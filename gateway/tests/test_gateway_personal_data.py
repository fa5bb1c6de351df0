"""The consumer's data export: the gateway reads each service's part with the caller's token and answers one
document; a part that fails fails the export with its problem; other audiences and no token are refused."""

from __future__ import annotations

import httpx
from gateway_testkit import assert_problem, bearer

from servicekit.auth import Audience, Role, TokenIssuer

EXPORT = "/v1/consumer/personal-data"


def _consumer(issuer: TokenIssuer) -> str:
    return issuer.issue(sub="c_export", aud=Audience.CONSUMER, roles=[Role.CONSUMER])


async def test_the_export_puts_every_service_s_part_in_one_document(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer,
) -> None:
    token = _consumer(gateway_issuer)

    response = await gateway.get(EXPORT, headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith('attachment; filename="personal-data-')
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert document["consumer_id"] == "c_export"
    assert document["exported_at"]
    # The stand-in services echo what they were asked: each part came from its service, asked with the caller's token.
    assert {name: (part["service"], part["path"], part["headers"]["authorization"])
            for name, part in document.items() if isinstance(part, dict)} == {
        "complaints": ("complaints", "/v1/consumer/personal-data/complaints", f"Bearer {token}"),
        "mediation": ("mediation", "/v1/consumer/personal-data/mediation", f"Bearer {token}")}


async def test_a_part_that_fails_fails_the_export_with_its_problem(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer,
) -> None:
    response = await gateway.get(EXPORT, headers={**bearer(_consumer(gateway_issuer)), "X-Test-Delay": "2"})

    assert assert_problem(response, 504, "upstream-timeout")["service"] == "complaints"


async def test_only_a_consumer_may_export(gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer) -> None:
    regulator = gateway_issuer.issue(sub="reg-x", aud=Audience.REGULATOR, roles=[Role.REGULATOR], region="632801")

    assert_problem(await gateway.get(EXPORT), 401, "unauthenticated")
    assert_problem(await gateway.get(EXPORT, headers=bearer(regulator)), 403, "forbidden")


async def test_the_export_is_documented_as_a_consumer_operation(gateway: httpx.AsyncClient) -> None:
    operation = (await gateway.get("/openapi.json")).json()["paths"][EXPORT]["get"]

    assert (operation["tags"], operation["security"]) == (["consumer"], [{"bearer": []}])
    assert {status: list(answer.get("content", {})) for status, answer in operation["responses"].items()} == {
        "200": ["application/json"], "401": ["application/problem+json"], "403": ["application/problem+json"],
        "503": ["application/problem+json"], "504": ["application/problem+json"]}
