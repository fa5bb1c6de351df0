"""Bad requests through the gateway are refused with a 4xx problem and leave the complaints database untouched."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from odr_runner.credentials import JWT_ISSUER
from odr_runner.stack import Stack
from servicekit.auth import Audience, Role, TokenIssuer

pytestmark = pytest.mark.e2e

TableCounts = Callable[[], Awaitable[dict[str, int]]]
ComplaintBody = Callable[..., dict[str, Any]]
PATH = "/v1/consumer/complaints"


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}


def assert_problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code
    assert problem["type"]
    assert problem["title"]
    return problem


def error_fields(problem: dict[str, Any]) -> str:
    """Every field-level detail flattened to one string, so a test can ask whether a field is named."""
    return json.dumps(problem.get("errors", []), ensure_ascii=False)


@pytest.fixture
async def unchanged(complaints_row_counts: TableCounts) -> Any:
    """Asserts, after the test, that the complaints database has exactly the rows it had before."""
    before = await complaints_row_counts()
    yield
    assert await complaints_row_counts() == before, "a refused request wrote to the complaints database"


@pytest.mark.usefixtures("unchanged")
async def test_malformed_json_is_400(gateway: httpx.AsyncClient, consumer_token: str) -> None:
    response = await gateway.post(PATH, content=b'{"kind": "complaint", "facts": ',
                                  headers={**headers(consumer_token), "Content-Type": "application/json"})
    assert_problem(response, 400)


@pytest.mark.usefixtures("unchanged")
async def test_wrong_types_are_422_naming_each_field(
    gateway: httpx.AsyncClient, consumer_token: str, complaint_body: ComplaintBody
) -> None:
    body = complaint_body()
    body["request"]["amount_fen"] = "two hundred"
    body["green_channel"] = "yes"
    body["facts"] = 12345
    problem = assert_problem(await gateway.post(PATH, json=body, headers=headers(consumer_token)), 422)
    for field in ("amount_fen", "green_channel", "facts"):
        assert field in error_fields(problem), problem


@pytest.mark.usefixtures("unchanged")
async def test_missing_fields_are_422_naming_each_field(
    gateway: httpx.AsyncClient, consumer_token: str, complaint_body: ComplaintBody
) -> None:
    body = complaint_body()
    del body["facts"], body["respondent"]
    problem = assert_problem(await gateway.post(PATH, json=body, headers=headers(consumer_token)), 422)
    for field in ("facts", "respondent"):
        assert field in error_fields(problem), problem


@pytest.mark.usefixtures("unchanged")
async def test_unknown_fields_are_422(
    gateway: httpx.AsyncClient, consumer_token: str, complaint_body: ComplaintBody
) -> None:
    body = {**complaint_body(), "priority": "urgent"}
    body["complainant"]["id_number"] = "632801199001011234"
    problem = assert_problem(await gateway.post(PATH, json=body, headers=headers(consumer_token)), 422)
    for field in ("priority", "id_number"):
        assert field in error_fields(problem), problem


@pytest.mark.usefixtures("unchanged")
async def test_two_megabyte_body_is_413(
    gateway: httpx.AsyncClient, consumer_token: str, complaint_body: ComplaintBody
) -> None:
    body = complaint_body(facts="枸" * (2 * 1024 * 1024 // 3 + 1))
    assert len(json.dumps(body, ensure_ascii=False).encode()) > 2 * 1024 * 1024
    response = await gateway.post(PATH, content=json.dumps(body, ensure_ascii=False).encode(),
                                  headers={**headers(consumer_token), "Content-Type": "application/json"})
    assert_problem(response, 413)


@pytest.mark.usefixtures("unchanged")
async def test_token_for_another_audience_is_refused(
    gateway: httpx.AsyncClient, merchant_a_token: str, complaint_body: ComplaintBody
) -> None:
    response = await gateway.post(PATH, json=complaint_body(), headers=headers(merchant_a_token))
    assert_problem(response, 401, 403)


@pytest.mark.usefixtures("unchanged")
async def test_expired_token_is_401(
    gateway: httpx.AsyncClient, e2e_stack: Stack, complaint_body: ComplaintBody
) -> None:
    issuer = TokenIssuer(e2e_stack.config.secrets.jwt_private_key, JWT_ISSUER)
    expired = issuer.issue(sub="consumer-expired", aud=Audience.CONSUMER, roles=[Role.CONSUMER],
                           ttl=timedelta(minutes=-5))
    response = await gateway.post(PATH, json=complaint_body(), headers=headers(expired))
    assert_problem(response, 401)
    assert "invalid_token" in response.headers.get("www-authenticate", "")


@pytest.mark.usefixtures("unchanged")
async def test_missing_token_is_401(gateway: httpx.AsyncClient, complaint_body: ComplaintBody) -> None:
    response = await gateway.post(PATH, json=complaint_body(), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert_problem(response, 401)
