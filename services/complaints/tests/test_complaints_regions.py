"""The public region list a filing form picks a business's place from."""

from __future__ import annotations

import httpx


async def test_regions_list_every_known_region_with_its_parent(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/public/regions")

    assert response.status_code == 200
    by_code = {item["code"]: item for item in response.json()["items"]}
    assert by_code["630000"] == {"code": "630000", "name": "青海省", "level": "province", "parent_code": None}
    assert by_code["632800"]["parent_code"] == "630000"
    assert by_code["632801"] == {"code": "632801", "name": "格尔木市", "level": "county", "parent_code": "632800"}
