"""What the regulator console lists: the enrolled enterprises of my regions with their status and latest change,
and the applications found by name or credit code."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from merchants_testkit import application_body, random_address

from servicekit.testing.plugin import Tokens

ENTERPRISES = "/v1/regulator/merchants"
APPLICATIONS = "/v1/regulator/odr-applications"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def apply(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await client.post("/v1/public/odr-applications", json=application_body(name=name),
                                 headers={"X-Forwarded-For": random_address()})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def listed(client: httpx.AsyncClient, token: str, path: str, **params: str) -> list[dict[str, Any]]:
    response = await client.get(path, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_enterprises_list_the_enrolled_of_my_regions_with_status_and_latest_change(
    client: httpx.AsyncClient, tokens: Tokens,
) -> None:
    marker = secrets.token_hex(4)
    golmud, haixi, delingha = (tokens.regulator("632801"), tokens.regulator("632800"),
                               tokens.regulator("632802"))
    approved = await apply(client, f"格尔木列表甲{marker}有限公司")
    pending = await apply(client, f"格尔木列表乙{marker}有限公司")
    decided = await client.post(f"{APPLICATIONS}/{approved['id']}/approve", json={}, headers=bearer(golmud))
    assert decided.status_code == 200, decided.text

    enterprises = await listed(client, golmud, ENTERPRISES, q=marker)
    assert [(item["merchant_id"], item["status"]) for item in enterprises] == [(approved["merchant_id"], "approved")]
    assert enterprises[0]["last_change"]["to_status"] == "approved"

    suspended = await client.post(f"{ENTERPRISES}/{approved['merchant_id']}/suspend", json={"reason": "考评不达标"},
                                  headers=bearer(golmud))
    assert suspended.status_code == 200, suspended.text
    [enterprise] = await listed(client, haixi, ENTERPRISES, q=marker)  # the prefecture governs Golmud
    assert enterprise["status"] == "suspended"
    assert enterprise["suspended_at"] is not None
    assert {key: enterprise["last_change"][key] for key in ("from_status", "to_status", "actor_role", "reason")} == {
        "from_status": "approved", "to_status": "suspended", "actor_role": "regulator", "reason": "考评不达标"}
    assert await listed(client, golmud, ENTERPRISES, q=marker, status="approved") == []
    assert [item["merchant_id"] for item in await listed(client, golmud, ENTERPRISES, q=marker, status="suspended")
            ] == [approved["merchant_id"]]
    assert pending["merchant_id"] not in {item["merchant_id"] for item in await listed(client, golmud, ENTERPRISES)}
    assert await listed(client, delingha, ENTERPRISES, q=marker) == []

    by_code = await listed(client, golmud, ENTERPRISES, q=enterprise["uscc"][:12].lower())
    assert approved["merchant_id"] in {item["merchant_id"] for item in by_code}
    wrong_status = await client.get(ENTERPRISES, params={"status": "pending"}, headers=bearer(golmud))
    assert wrong_status.status_code == 422
    assert wrong_status.headers["content-type"] == "application/problem+json"
    assert (await client.get(ENTERPRISES, headers=bearer(tokens.merchant(approved["merchant_id"])))).status_code \
        in (401, 403)


async def test_applications_are_found_by_part_of_the_name_or_the_start_of_the_code(
    client: httpx.AsyncClient, tokens: Tokens,
) -> None:
    marker = secrets.token_hex(4)
    first = await apply(client, f"格尔木搜索{marker}商行")
    second = await apply(client, f"格尔木另一家{marker}商行")
    golmud = tokens.regulator("632801")

    both = await listed(client, golmud, APPLICATIONS, q=marker)
    assert [item["id"] for item in both] == sorted([first["id"], second["id"]])
    assert [item["id"] for item in await listed(client, golmud, APPLICATIONS, q=f"搜索{marker}")] == [first["id"]]
    code = next(item["uscc"] for item in both if item["id"] == second["id"])
    assert second["id"] in {item["id"] for item in await listed(client, golmud, APPLICATIONS, q=code)}
    assert await listed(client, golmud, APPLICATIONS, q=marker, status="approved") == []
    # LIKE wildcards are matched literally, not as patterns.
    assert await listed(client, golmud, APPLICATIONS, q=f"%{marker}") == []
