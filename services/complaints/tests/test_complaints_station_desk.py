"""The station desk: identity checked on the spot, a settlement recorded after filing, the station's cases and
figures, and uploads made at the desk."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from complaints_support import Area, Count, Seed, bearer, checked_identity
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from test_complaints_station import STATION_COMPLAINTS, event_types, station_staff, walk_in_body, walk_in_phone

from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.testing.plugin import Tokens

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def file_walk_in(client: httpx.AsyncClient, staff: dict[str, str], region: str, **changes: Any) -> dict[str, Any]:
    response = await client.post(STATION_COMPLAINTS, json=walk_in_body(walk_in_phone(), region, **changes),
                                 headers=staff)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored_identity(engine: AsyncEngine, complaint_id: str) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT identity_document, identity_checked_at, identity_checked_by, complainant_id_number_enc "
            "FROM complaint WHERE id = :id"), {"id": complaint_id})).mappings().one()
        return dict(row)


async def test_the_identity_document_checked_at_the_desk_is_recorded_and_its_number_sealed(
    client: httpx.AsyncClient, tokens: Tokens, engine: AsyncEngine, area: Area,
) -> None:
    staff = station_staff(tokens.issuer, area.prefecture, uuid.uuid4())
    passport = checked_identity(document_type="passport", document_number=" e12345678 ")

    filed = await file_walk_in(client, staff, area.counties[0], identity=passport)

    assert filed["identity"]["document_type"] == "passport"
    assert filed["complainant"]["id_number"] == "E12345678"
    stored = await stored_identity(engine, filed["id"])
    assert stored["identity_document"] == "passport"
    assert stored["identity_checked_at"] is not None
    assert stored["identity_checked_by"] is not None
    assert stored["identity_checked_by"].startswith("staff-")
    assert b"E12345678" not in stored["complainant_id_number_enc"]


@pytest.mark.parametrize(("identity", "why"), [
    (None, "missing"),
    (checked_identity(checked=False), "not confirmed"),
    (checked_identity(document_number="632801199003071234"), "wrong check character"),
    (checked_identity(document_type="taiwan_permit", document_number="1234567"), "too short"),
    (checked_identity(document_type="driving_licence"), "not an identity document the desk accepts"),
])
async def test_a_filing_without_a_checked_identity_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, tokens: Tokens, area: Area, count: Count, identity: dict[str, Any] | None, why: str,
) -> None:
    body = walk_in_body(walk_in_phone(), area.counties[0])
    if identity is None:
        del body["identity"]
    else:
        body["identity"] = identity
    before = (await count("complaint"), await count("outbox"))

    response = await client.post(STATION_COMPLAINTS, json=body,
                                  headers=station_staff(tokens.issuer, area.prefecture, uuid.uuid4()))

    assert response.status_code == 422, why
    assert any("identity" in error["field"] for error in response.json()["errors"]), response.json()
    assert (await count("complaint"), await count("outbox")) == before


async def settled_by_station(engine: AsyncEngine, complaint_id: str) -> list[str | None]:
    """The station each closed.v1 of the complaint names as the one that settled it."""
    async with engine.connect() as connection:
        return list((await connection.execute(text(
            "SELECT payload->>'settled_by_station' FROM outbox WHERE aggregate_id = :id "
            "AND event_type = 'complaints.complaint.closed.v1' ORDER BY seq"), {"id": complaint_id})).scalars())


async def test_a_walk_in_complaint_waiting_for_the_regulator_is_settled_on_the_spot_once(
    client: httpx.AsyncClient, tokens: Tokens, engine: AsyncEngine, area: Area,
) -> None:
    station_id = uuid.uuid4()
    staff = station_staff(tokens.issuer, area.prefecture, station_id)
    filed = await file_walk_in(client, staff, area.counties[0])
    assert filed["status"] == "pending_acceptance"

    settled = await client.post(f"{STATION_COMPLAINTS}/{filed['id']}/settlement", headers=staff,
                                json={"amount_fen": 8800, "note": "商家退还货款88元"})

    assert settled.status_code == 200, settled.text
    case = settled.json()
    assert (case["status"], case["recovered_fen"]) == ("closed_settled", 8800)
    assert case["closed_at"] is not None
    last = case["timeline"][-1]
    assert (last["status"], last["actor_role"], last["code"]) == ("closed_settled", "station_staff",
                                                                  "settled_at_station")
    assert last["params"] == {"amount_fen": 8800, "text": "商家退还货款88元"}
    assert [(clock["kind"], clock["state"]) for clock in case["deadlines"]] == [("initial_review", "met")]
    assert await event_types(engine, filed["id"]) == ["complaints.complaint.filed.v1",
                                                      "complaints.complaint.routed.v1",
                                                      "complaints.complaint.closed.v1"]

    again = await client.post(f"{STATION_COMPLAINTS}/{filed['id']}/settlement", headers=staff,
                              json={"amount_fen": 1, "note": "再次"})
    assert again.status_code == 409
    assert again.json()["current_status"] == "closed_settled"
    assert (await client.get(f"{STATION_COMPLAINTS}/{filed['id']}", headers=staff)).json()["recovered_fen"] == 8800


@pytest.mark.parametrize("status", ["with_merchant", "accepted", "withdrawn"])
async def test_a_case_someone_else_handles_cannot_be_settled_at_the_station(
    client: httpx.AsyncClient, tokens: Tokens, engine: AsyncEngine, area: Area, status: str,
) -> None:
    staff = station_staff(tokens.issuer, area.prefecture, uuid.uuid4())
    filed = await file_walk_in(client, staff, area.counties[0])
    async with engine.begin() as connection:  # test set-up: put the case straight into the status under test
        await connection.execute(text("UPDATE complaint SET status = :status WHERE id = :id"),
                                 {"status": status, "id": filed["id"]})
    before = await event_types(engine, filed["id"])

    response = await client.post(f"{STATION_COMPLAINTS}/{filed['id']}/settlement", headers=staff,
                                 json={"amount_fen": 100, "note": "退款"})

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await event_types(engine, filed["id"]) == before


async def test_only_the_filing_station_reads_or_settles_its_case(
    client: httpx.AsyncClient, tokens: Tokens, engine: AsyncEngine, area: Area,
) -> None:
    station_id = uuid.uuid4()
    filed = await file_walk_in(client, station_staff(tokens.issuer, area.prefecture, station_id), area.counties[0])
    other = station_staff(tokens.issuer, area.prefecture, uuid.uuid4())

    assert (await client.get(f"{STATION_COMPLAINTS}/{filed['id']}", headers=other)).status_code == 404
    refused = await client.post(f"{STATION_COMPLAINTS}/{filed['id']}/settlement", headers=other,
                                json={"amount_fen": 100, "note": "退款"})
    assert refused.status_code == 404
    regulator = bearer(tokens.regulator(region=area.prefecture))
    assert (await client.get(f"{STATION_COMPLAINTS}/{filed['id']}", headers=regulator)).status_code == 403

    own = station_staff(tokens.issuer, area.prefecture, station_id)
    detail = await client.get(f"{STATION_COMPLAINTS}/{filed['id']}", headers=own)
    assert detail.status_code == 200
    assert detail.json()["complainant"]["name"] == "李强"
    async with engine.connect() as connection:
        reads = (await connection.execute(text("SELECT count(*) FROM pii_access WHERE complaint_id = :id"),
                                          {"id": filed["id"]})).scalar_one()
    assert reads == 1
    assert (await event_types(engine, filed["id"]))[-1] == "complaints.complaint.routed.v1"


async def test_the_station_figures_count_received_settled_referred_and_recovered_like_the_statistics(
    client: httpx.AsyncClient, tokens: Tokens, own_area: Area, engine: AsyncEngine,
) -> None:
    station_id = uuid.uuid4()
    staff = station_staff(tokens.issuer, own_area.prefecture, station_id)
    at_filing = await file_walk_in(client, staff, own_area.counties[0],
                                   settled_on_spot={"amount_fen": 5000, "note": "当场退款"})
    later = await file_walk_in(client, staff, own_area.counties[0])
    referred = await file_walk_in(client, staff, own_area.counties[0])
    assert at_filing["status"] == "closed_settled"
    assert referred["status"] == "pending_acceptance"
    settled = await client.post(f"{STATION_COMPLAINTS}/{later['id']}/settlement", headers=staff,
                                json={"amount_fen": 1200, "note": "换货并补偿12元"})
    assert settled.status_code == 200
    today = local_date(utcnow())

    response = await client.get(f"{STATION_COMPLAINTS}/figures", headers=staff,
                                params={"period": "day", "from": today.isoformat(), "to": today.isoformat()})

    assert response.status_code == 200, response.text
    figures = response.json()
    expected = {"received": 3, "settled_on_spot": 2, "referred": 1, "closed": 2, "recovered_fen": 6200,
                "recovered_on_spot_fen": 6200}
    assert figures["totals"] == expected
    # Both closures name the station that settled them, which is how mediation's outcome audit learns of them.
    assert [await settled_by_station(engine, case["id"]) for case in (at_filing, later)] == [[str(station_id)]] * 2
    assert figures["periods"] == [{"start": today.isoformat(), **expected}]
    assert (figures["from"], figures["to"], figures["period"]) == (today.isoformat(), today.isoformat(), "day")

    stats = await client.get("/v1/regulator/stats", headers=bearer(tokens.regulator(region=own_area.prefecture)),
                             params={"region": own_area.prefecture, "from": today.isoformat(),
                                     "to": today.isoformat(), "channel": "station"})
    assert stats.status_code == 200
    regulator_view = stats.json()
    assert (regulator_view["received"], regulator_view["closed"], regulator_view["settled"],
            regulator_view["recovered_fen"], regulator_view["initial_reviews_on_time"]) == (3, 2, 2, 6200, 2)

    monthly = (await client.get(f"{STATION_COMPLAINTS}/figures", headers=staff)).json()
    assert len(monthly["periods"]) == 12
    assert monthly["periods"][-1]["start"] == today.replace(day=1).isoformat()
    assert monthly["totals"] == expected
    another_station = station_staff(tokens.issuer, own_area.prefecture, uuid.uuid4())
    assert (await client.get(f"{STATION_COMPLAINTS}/figures", headers=another_station)).json()["totals"][
        "received"] == 0


@pytest.mark.parametrize("params", [{"from": "2026-03-02", "to": "2026-03-01"},
                                    {"period": "day", "from": "2024-01-01", "to": "2026-01-01"},
                                    {"period": "week"}])
async def test_a_bad_figures_range_is_refused(client: httpx.AsyncClient, tokens: Tokens, area: Area,
                                              params: dict[str, str]) -> None:
    response = await client.get(f"{STATION_COMPLAINTS}/figures", params=params,
                                headers=station_staff(tokens.issuer, area.prefecture, uuid.uuid4()))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_evidence_uploaded_at_the_desk_is_attached_only_by_a_filing_of_the_same_station(
    client: httpx.AsyncClient, tokens: Tokens, area: Area, enrolled_merchant: Seed,
) -> None:
    station_id = uuid.uuid4()
    staff = station_staff(tokens.issuer, area.prefecture, station_id)
    uploaded = await client.post(f"{STATION_COMPLAINTS}/evidence", params={"filename": "receipt.png"},
                                 content=PNG, headers=staff | {"Content-Type": "application/octet-stream"})
    assert uploaded.status_code == 201, uploaded.text
    evidence_id = uploaded.json()["id"]

    other = station_staff(tokens.issuer, area.prefecture, uuid.uuid4())
    stolen = await client.post(STATION_COMPLAINTS, headers=other,
                               json=walk_in_body(walk_in_phone(), area.counties[0], evidence_ids=[evidence_id]))
    assert stolen.status_code == 422

    filed = await file_walk_in(client, staff, area.counties[0], evidence_ids=[evidence_id])
    assert [item["id"] for item in filed["evidence"]] == [evidence_id]
    downloaded = await client.get(f"{STATION_COMPLAINTS}/{filed['id']}/evidence/{evidence_id}", headers=staff)
    assert downloaded.status_code == 200
    assert downloaded.content == PNG
    assert downloaded.headers["content-type"] == "image/png"
    elsewhere = await client.get(f"{STATION_COMPLAINTS}/{filed['id']}/evidence/{evidence_id}", headers=other)
    assert elsewhere.status_code == 404
