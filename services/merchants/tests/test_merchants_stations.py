"""Consumer-rights service stations: regional registry, staff accounts that sign in bound to their station."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from merchants_testkit import VERIFY, ApproveMerchant, internal_headers

from servicekit.auth import Audience, Role
from servicekit.testing.plugin import Tokens

STATIONS = "/v1/regulator/stations"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def station_body(**overrides: Any) -> dict[str, Any]:
    return {"name": "昆仑市场消费维权服务站", "host_name": "格尔木昆仑市场", "region_code": "632801",
            "address": "青海省格尔木市昆仑中路100号", "phone": "0979-8410000", **overrides}


async def test_a_station_gets_staff_who_sign_in_bound_to_it(client: httpx.AsyncClient, tokens: Tokens,
                                                           approved_merchant: ApproveMerchant) -> None:
    host = await approved_merchant()
    regulator = bearer(tokens.regulator("632800", sub="reg-haixi"))
    created = await client.post(STATIONS, json=station_body(host_merchant_id=str(host.merchant_id)),
                                headers=regulator)
    assert created.status_code == 201, created.text
    station = created.json()
    assert (station["region_code"], station["host_merchant_id"], station["staff"]) == (
        "632801", str(host.merchant_id), [])

    username = f"kunlun-{uuid.uuid4().hex[:8]}"
    staff = await client.post(f"{STATIONS}/{station['id']}/staff", headers=regulator, json={
        "username": username, "password": "station-password-1", "display_name": "维权站 张华"})
    assert staff.status_code == 201, staff.text
    assert staff.json() == {"username": username, "role": "station_staff", "station_id": station["id"],
                            "region_code": "632801", "display_name": "维权站 张华"}
    again = await client.post(f"{STATIONS}/{station['id']}/staff", headers=regulator, json={
        "username": username, "password": "another-password-2", "display_name": "x"})
    assert again.status_code == 409

    claims = await client.post(VERIFY, headers=internal_headers(), json={
        "grant_type": "password", "username": username, "password": "station-password-1"})
    assert claims.status_code == 200
    assert claims.json() == {"sub": username, "aud": "regulator", "roles": ["station_staff"], "region": "632801",
                             "station_id": station["id"], "setup_required": []}
    detail = (await client.get(f"{STATIONS}/{station['id']}", headers=regulator)).json()
    assert detail["staff"] == [username]

    public = (await client.get("/v1/public/stations", params={"region": "632800", "limit": 100})).json()
    listed = next(item for item in public["items"] if item["id"] == station["id"])
    assert listed["staff"] == []


async def test_stations_are_kept_within_the_regulators_regions(client: httpx.AsyncClient, tokens: Tokens) -> None:
    golmud = bearer(tokens.regulator("632801"))
    xining = bearer(tokens.regulator("630100", sub="reg-xining"))
    assert (await client.post(STATIONS, json=station_body(), headers=xining)).status_code == 403
    assert (await client.post(STATIONS, json=station_body(region_code="639999"), headers=golmud)).status_code == 422
    unknown_host = await client.post(STATIONS, json=station_body(host_merchant_id=str(uuid.uuid4())), headers=golmud)
    assert unknown_host.status_code == 422
    station = (await client.post(STATIONS, json=station_body(), headers=golmud)).json()
    assert (await client.get(f"{STATIONS}/{station['id']}", headers=xining)).status_code == 404
    staff = await client.post(f"{STATIONS}/{station['id']}/staff", headers=xining, json={
        "username": "sneaky-staff", "password": "station-password-1", "display_name": "x"})
    assert staff.status_code == 404
    weak = await client.post(f"{STATIONS}/{station['id']}/staff", headers=golmud, json={
        "username": "weak-staff", "password": "short", "display_name": "x"})
    assert weak.status_code == 422
    mine = (await client.get(STATIONS, params={"limit": 100}, headers=xining)).json()
    assert station["id"] not in {item["id"] for item in mine["items"]}
    mediator = tokens.issuer.issue(sub="m", aud=Audience.REGULATOR, roles=[Role.MEDIATOR], region="632801")
    assert (await client.post(STATIONS, json=station_body(), headers=bearer(mediator))).status_code == 403
