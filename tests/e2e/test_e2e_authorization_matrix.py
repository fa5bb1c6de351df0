"""The authorization matrix (issue 14 item 6), generated from the gateway's route table: every allow-listed
operation is called as every audience, and the answer's class is checked.

Principals: anonymous, consumer A (who filed the case and a report) and consumer B, enterprise X (the case's
respondent) and enterprise Y, the regulator of the case's region (Golmud) and of another region (Delingha), a
mediator and a service station's staff member of the same region (made here through the staff administrator's and
the station APIs).
The enterprise portal user has no account type on this platform yet; its column joins when it has one.

Expectations, per (route, principal):
- anonymous: 401 on every non-public route;
- a token of another audience: 403 at the edge;
- the owner (A, X, the Golmud regulator): GETs only (mutations would change the scene), never a 5xx;
- every other principal of the route's audience, on a route naming the case (or the station, or the staff
  account): never 2xx, and the same answer for the foreign resource as for an id that does not exist (a foreign
  resource answers as missing: no existence leak); a GET answers 404, or 403 where the role may not use the route.
Routes added to the table are covered without touching this file; an unknown path parameter gets a random id.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.routes import PUBLIC, ROUTES, Route
from servicekit.auth import Audience

Eventually = Callable[..., Any]


@dataclass(frozen=True)
class Caller:
    name: str
    audience: Audience | None
    token: str | None
    owner: bool = False

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass
class World:
    callers: list[Caller]
    # Path parameter values naming resources that belong to the owners, by the route's path prefix.
    complaint_id: str
    report_id: str
    case_id: str
    station_id: str
    staff_account_id: str


async def token(gateway: httpx.AsyncClient, form: dict[str, str]) -> str:
    answer = await gateway.post("/auth/token", data=form)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def consumer(gateway: httpx.AsyncClient, phone: str) -> str:
    code = (await gateway.post("/auth/otp", json={"phone": phone})).json()["dev_code"]
    return await token(gateway, {"grant_type": "otp", "phone": phone, "code": code})


async def new_staff_member(gateway: httpx.AsyncClient, demo: dict[str, Any]) -> tuple[str, str]:
    """A mediator of Golmud made by the demo staff administrator: temporary password, forced change, sign-in."""
    admin = demo["staff_admin"]
    admin_token = await token(gateway, {"grant_type": "password", "username": admin["username"],
                                        "password": admin["password"]})
    username = f"mediator-{secrets.token_hex(3)}"
    created = await gateway.post("/v1/regulator/staff", headers={"Authorization": f"Bearer {admin_token}"}, json={
        "username": username, "display_name": "赵敏", "role": "mediator", "region_code": "632801"})
    assert created.status_code == 201, created.text
    temporary = created.json()["temporary_password"]
    setup = await gateway.post("/auth/token", data={"grant_type": "password", "username": username,
                                                    "password": temporary})
    assert setup.status_code == 403, setup.text
    changed = await gateway.post("/v1/regulator/staff/me/password", json={
        "current_password": temporary, "new_password": "Golmud-mediator-1"},
        headers={"Authorization": f"Bearer {setup.json()['setup_token']}"})
    assert changed.status_code == 204, changed.text
    signed_in = await token(gateway, {"grant_type": "password", "username": username,
                                      "password": "Golmud-mediator-1"})
    return signed_in, str(created.json()["account"]["id"])


async def new_station_staff(gateway: httpx.AsyncClient, regulator: str) -> tuple[str, str]:
    headers = {"Authorization": f"Bearer {regulator}"}
    station = await gateway.post("/v1/regulator/stations", headers=headers, json={
        "name": "昆仑市场消费维权服务站", "host_name": "格尔木昆仑市场", "region_code": "632801",
        "address": "青海省格尔木市昆仑中路100号", "phone": "0979-8410000"})
    assert station.status_code == 201, station.text
    username = f"station-{secrets.token_hex(3)}"
    staff = await gateway.post(f"/v1/regulator/stations/{station.json()['id']}/staff", headers=headers, json={
        "username": username, "password": "Kunlun-station-1", "display_name": "维权站 张华"})
    assert staff.status_code == 201, staff.text
    signed_in = await token(gateway, {"grant_type": "password", "username": username,
                                      "password": "Kunlun-station-1"})
    return signed_in, str(station.json()["id"])


@pytest.fixture(scope="module")
async def world(gateway: httpx.AsyncClient, demo: dict[str, Any], consumer_token: str, merchant_a_token: str,
                merchant_b_token: str, regulator_token: str, complaint_body: Callable[..., dict[str, Any]],
                eventually: Eventually) -> World:
    consumer_a = {"Authorization": f"Bearer {consumer_token}"}
    filed = await gateway.post("/v1/consumer/complaints", json=complaint_body("授权矩阵：枸杞与宣传不符。"),
                               headers={**consumer_a, "Idempotency-Key": str(uuid.uuid4())})
    assert filed.status_code == 201, filed.text
    complaint_id = filed.json()["id"]

    async def case_opened() -> str | None:
        detail = (await gateway.get(f"/v1/consumer/complaints/{complaint_id}", headers=consumer_a)).json()
        return detail.get("mediation_case_id")

    case_id = await eventually(case_opened, within=30, what="the negotiation case")
    report = await gateway.post("/v1/consumer/reports", headers=consumer_a, json={
        "respondent": {"merchant_id": demo["merchants"][0]["merchant_id"]}, "request": {"type": "other"},
        "facts": "授权矩阵：该店标注产地与实际不符。", "sector": "online_shopping"})
    assert report.status_code == 201, report.text
    [delingha] = [account for account in demo["regulators"] if account["region"] == "632802"]
    mediator, mediator_account = await new_staff_member(gateway, demo)
    station_staff, station_id = await new_station_staff(gateway, regulator_token)
    callers = [
        Caller("anonymous", None, None),
        Caller("consumer A", Audience.CONSUMER, consumer_token, owner=True),
        Caller("consumer B", Audience.CONSUMER, await consumer(gateway, "13900000002")),
        Caller("enterprise X", Audience.MERCHANT, merchant_a_token, owner=True),
        Caller("enterprise Y", Audience.MERCHANT, merchant_b_token),
        Caller("regulator of the region", Audience.REGULATOR, regulator_token, owner=True),
        Caller("regulator of another region", Audience.REGULATOR,
               await token(gateway, {"grant_type": "password", "username": delingha["username"],
                                     "password": delingha["password"]})),
        Caller("mediator", Audience.REGULATOR, mediator),
        Caller("station staff", Audience.REGULATOR, station_staff),
    ]
    return World(callers=callers, complaint_id=complaint_id, report_id=report.json()["id"], case_id=case_id,
                 station_id=station_id, staff_account_id=mediator_account)


def owned_resource(route: Route, world: World) -> str | None:
    """The id of the scene's resource the route's `{id}` names, if the route names one."""
    if "{id}" not in route.template:
        return None
    prefixes = {"/complaints/": world.complaint_id, "/reports/": world.report_id, "/cases/": world.case_id,
                "/stations/": world.station_id, "/staff/": world.staff_account_id}
    return next((value for prefix, value in prefixes.items() if prefix in route.template), None)


def path_of(route: Route, resource: str | None) -> str:
    values = {"{id}": resource or str(uuid.uuid4()), "{month}": "2026-11", "{region}": "632801"}
    return "/".join(values.get(segment, str(uuid.uuid4()) if segment.startswith("{") else segment)
                    for segment in route.template.split("/"))


async def call(gateway: httpx.AsyncClient, route: Route, path: str, caller: Caller) -> int:
    body = {} if route.method in {"POST", "PUT", "PATCH"} else None
    async with gateway.stream(route.method, path, headers=caller.headers(), json=body) as answer:
        return answer.status_code


GUARDED = [route for route in ROUTES if route.audience != PUBLIC]


@pytest.mark.parametrize("route", GUARDED, ids=[f"{route.method} {route.template}" for route in GUARDED])
async def test_every_route_answers_every_audience_as_expected(route: Route, world: World,
                                                              gateway: httpx.AsyncClient) -> None:
    resource = owned_resource(route, world)
    failures: list[str] = []
    for caller in world.callers:
        if caller.audience is None:
            status = await call(gateway, route, path_of(route, resource), caller)
            if status != 401:
                failures.append(f"{caller.name}: {status}, expected 401")
        elif caller.audience != route.audience:
            status = await call(gateway, route, path_of(route, resource), caller)
            if status != 403:
                failures.append(f"{caller.name}: {status}, expected 403 (another audience)")
        elif caller.owner:
            if route.method == "GET" and not route.streaming:
                status = await call(gateway, route, path_of(route, resource), caller)
                if status >= 500:
                    failures.append(f"{caller.name} (owner): {status}")
        elif resource is not None:
            foreign = await call(gateway, route, path_of(route, resource), caller)
            missing = await call(gateway, route, path_of(route, None), caller)
            if 200 <= foreign < 300:
                failures.append(f"{caller.name}: {foreign} on a resource that is not theirs")
            elif foreign != missing:
                failures.append(f"{caller.name}: {foreign} for the foreign resource but {missing} for a missing one")
            elif route.method == "GET" and foreign not in {403, 404}:
                failures.append(f"{caller.name}: {foreign}, expected 404 (or 403 for a role the route refuses)")
    assert not failures, f"{route.method} {route.template}:\n" + "\n".join(failures)
