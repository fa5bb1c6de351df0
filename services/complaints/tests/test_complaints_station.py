"""Consumer-rights service stations (消费维权服务站): staff file for walk-ins, who follow the case in the app."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest
from complaints_support import Area, Count, Seed, bearer, checked_identity, complaint_body, unregistered
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from complaints.settings import ComplaintsSettings
from servicekit.auth import Audience, Role, TokenIssuer, consumer_subject
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.testing.plugin import Tokens

STATION_COMPLAINTS = "/v1/regulator/station-complaints"


def walk_in_phone() -> str:
    """A mobile number no other test uses, so the consumer's subject is fresh."""
    return f"139{random.randrange(10**8):08d}"


def station_staff(issuer: TokenIssuer, region: str, station_id: uuid.UUID | None) -> dict[str, str]:
    token = issuer.issue(sub=f"staff-{uuid.uuid4().hex[:8]}", aud=Audience.REGULATOR, roles=[Role.STATION_STAFF],
                         region=region, station_id=station_id)
    return bearer(token)


def walk_in_body(phone: str, region: str, **changes: Any) -> dict[str, Any]:
    complainant = {"name": "李强", "phone": phone, "address": "青海省格尔木市柴达木路3号"}
    changes.setdefault("respondent", unregistered(region))
    changes.setdefault("green_channel", False)
    changes.setdefault("identity", checked_identity())
    return complaint_body(complainant=complainant, **changes)


async def stored_case(engine: AsyncEngine, complaint_id: str) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (await connection.execute(
            text("SELECT consumer_id, station_id, channel, status, recovered_fen FROM complaint WHERE id = :id"),
            {"id": complaint_id})).mappings().one()
        return dict(row)


async def event_types(engine: AsyncEngine, complaint_id: str) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT event_type FROM outbox WHERE aggregate_id = :id ORDER BY seq"), {"id": complaint_id})
        return [row.event_type for row in rows]


async def test_staff_file_for_a_walk_in_who_then_follows_the_case_under_their_own_login(
    client: httpx.AsyncClient, tokens: Tokens, settings: ComplaintsSettings, engine: AsyncEngine, area: Area,
) -> None:
    station_id = uuid.uuid4()
    staff = station_staff(tokens.issuer, area.prefecture, station_id)
    phone = walk_in_phone()

    response = await client.post(STATION_COMPLAINTS, json=walk_in_body(phone, area.counties[0]), headers=staff)

    assert response.status_code == 201, response.text
    filed = response.json()
    assert filed["channel"] == "station"
    assert filed["status"] == "pending_acceptance"
    assert [(entry["status"], entry["actor_role"]) for entry in filed["timeline"]] == [
        ("submitted", "station_staff"), ("pending_acceptance", "system")]
    subject = consumer_subject(phone, settings.subject_key.get_secret_value())
    stored = await stored_case(engine, filed["id"])
    assert stored["consumer_id"] == subject
    assert stored["station_id"] == station_id
    assert await event_types(engine, filed["id"]) == ["complaints.complaint.filed.v1",
                                                      "complaints.complaint.routed.v1"]

    own_login = bearer(tokens.consumer(subject))
    followed = await client.get(f"/v1/consumer/complaints/{filed['id']}", headers=own_login)
    assert followed.status_code == 200, followed.text
    assert followed.json()["case_no"] == filed["case_no"]
    assert followed.json()["complainant"]["phone"] == phone
    someone_else = bearer(tokens.consumer(consumer_subject(walk_in_phone(), settings.subject_key.get_secret_value())))
    assert (await client.get(f"/v1/consumer/complaints/{filed['id']}", headers=someone_else)).status_code == 404

    listed = await client.get(STATION_COMPLAINTS, headers=station_staff(tokens.issuer, area.prefecture, station_id))
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [filed["id"]]
    other_station = station_staff(tokens.issuer, area.prefecture, uuid.uuid4())
    assert (await client.get(STATION_COMPLAINTS, headers=other_station)).json()["items"] == []


async def test_a_case_settled_on_the_spot_is_closed_at_once_and_never_reaches_the_merchant(
    client: httpx.AsyncClient, tokens: Tokens, engine: AsyncEngine, area: Area, enrolled_merchant: Seed,
) -> None:
    merchant_id = await enrolled_merchant(area.counties[1])
    staff = station_staff(tokens.issuer, area.prefecture, uuid.uuid4())
    body = walk_in_body(walk_in_phone(), area.counties[1], green_channel=True,
                        respondent={"merchant_id": str(merchant_id)},
                        settled_on_spot={"amount_fen": 12000, "note": "商家当场退款120元"})

    response = await client.post(STATION_COMPLAINTS, json=body, headers=staff)

    assert response.status_code == 201, response.text
    settled = response.json()
    assert settled["status"] == "closed_settled"
    assert settled["recovered_fen"] == 12000
    assert settled["closed_at"] is not None
    assert settled["routed_at"] is None
    assert settled["mediation_case_id"] is None
    assert [(entry["status"], entry["actor_role"]) for entry in settled["timeline"]] == [
        ("submitted", "station_staff"), ("closed_settled", "station_staff")]
    assert settled["timeline"][1]["note"] == "Settled at the station: 商家当场退款120元"
    assert [(clock["kind"], clock["state"]) for clock in settled["deadlines"]] == [("merchant_negotiation", "met")]
    assert await event_types(engine, settled["id"]) == ["complaints.complaint.filed.v1",
                                                        "complaints.complaint.closed.v1"]
    assert (await stored_case(engine, settled["id"]))["recovered_fen"] == 12000


async def test_station_filings_count_as_received_closed_and_recovered_in_the_statistics(
    client: httpx.AsyncClient, tokens: Tokens, own_area: Area,
) -> None:
    staff = station_staff(tokens.issuer, own_area.prefecture, uuid.uuid4())
    for changes in ({}, {"settled_on_spot": {"amount_fen": 5000, "note": "当场调解"}}):
        body = walk_in_body(walk_in_phone(), own_area.counties[0], **changes)
        assert (await client.post(STATION_COMPLAINTS, json=body, headers=staff)).status_code == 201
    today = local_date(utcnow()).isoformat()

    async def figures(channel: str) -> dict[str, Any]:
        response = await client.get("/v1/regulator/stats", headers=bearer(tokens.regulator(region=own_area.prefecture)),
                                    params={"region": own_area.prefecture, "from": today, "to": today,
                                            "channel": channel})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    station = await figures("station")
    assert (station["received"], station["closed"], station["settled"], station["recovered_fen"]) == (2, 1, 1, 5000)
    assert (await figures("app"))["received"] == 0


async def test_only_station_staff_of_a_station_may_file_or_list(
    client: httpx.AsyncClient, tokens: Tokens, area: Area, count: Count,
) -> None:
    body = walk_in_body(walk_in_phone(), area.counties[0])
    refused = [bearer(tokens.regulator(region=area.prefecture)), bearer(tokens.consumer()),
               station_staff(tokens.issuer, area.prefecture, station_id=None)]
    before = await count("complaint")
    for headers in refused:
        assert (await client.post(STATION_COMPLAINTS, json=body, headers=headers)).status_code == 403
        assert (await client.get(STATION_COMPLAINTS, headers=headers)).status_code == 403
    assert await count("complaint") == before


@pytest.mark.parametrize("path", ["/v1/regulator/complaints", "/v1/regulator/stats", "/v1/regulator/export.csv"])
async def test_station_staff_cannot_use_the_regulators_endpoints(
    client: httpx.AsyncClient, tokens: Tokens, area: Area, path: str,
) -> None:
    headers = station_staff(tokens.issuer, area.prefecture, station_id=uuid.uuid4())
    response = await client.get(path, headers=headers)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("changes", "field"), [
    ({"settled_on_spot": {"amount_fen": -1, "note": "退款"}}, "settled_on_spot.amount_fen"),
    ({"settled_on_spot": {"amount_fen": 100}}, "settled_on_spot.note"),
    ({"settled_on_spot": {"amount_fen": 100, "note": "退款", "paid": True}}, "settled_on_spot.paid"),
    ({"kind": "both", "settled_on_spot": {"amount_fen": 100, "note": "退款"}}, "body"),
    ({"complainant": None}, "body"),
    ({"station_id": str(uuid.uuid4())}, "station_id"),
])
async def test_bad_input_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, tokens: Tokens, area: Area, count: Count, changes: dict[str, Any], field: str,
) -> None:
    body = walk_in_body(walk_in_phone(), area.counties[0]) | changes
    before = (await count("complaint"), await count("outbox"), await count("deadline"))

    response = await client.post(STATION_COMPLAINTS, json=body,
                                 headers=station_staff(tokens.issuer, area.prefecture, uuid.uuid4()))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in error["field"] for error in response.json()["errors"]), response.json()
    assert (await count("complaint"), await count("outbox"), await count("deadline")) == before
