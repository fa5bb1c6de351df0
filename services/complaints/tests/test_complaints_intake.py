"""Filing a complaint: routing by the ODR replica, deadlines, case numbers, timeline, outbox events, encrypted PII."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from complaints_support import PII_KEY, Area, ChangeEnrollment, Consumer, Count, Seed, complaint_body, unregistered
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.calendar import add_working_days, local_date
from servicekit.contracts.complaints_v1 import ComplainantForMerchant
from servicekit.contracts.merchants_v1 import EnrollmentSuspended
from servicekit.pii import PiiCipher

PATH = "/v1/consumer/complaints"


async def outbox_of(engine: AsyncEngine, complaint_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT event_type, topic, payload FROM outbox WHERE aggregate_id = :id ORDER BY seq"),
            {"id": complaint_id})
        return [dict(row._mapping) for row in rows]


async def test_green_channel_complaint_goes_to_the_enrolled_merchant(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, area: Area, engine: AsyncEngine,
) -> None:
    region = area.first
    merchant_id = await enrolled_merchant(region)
    sub, auth = consumer()

    response = await client.post(PATH, json=complaint_body(respondent={"merchant_id": str(merchant_id)}),
                                 headers=auth)

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{PATH}/{body['id']}"
    filed_at = datetime.fromisoformat(body["filed_at"])
    filed_on = local_date(filed_at)
    assert re.fullmatch(rf"TS-{region}-{filed_on:%Y%m%d}-\d{{6}}", body["case_no"])
    assert body["status"] == "with_merchant"
    assert body["region_code"] == region
    assert body["respondent"]["merchant_id"] == str(merchant_id)
    assert body["respondent"]["name"] == "格尔木枸杞专卖店"
    assert body["mediation_case_id"] is None
    assert body["recovered_fen"] == 0
    due = add_working_days(filed_on, 10)
    [deadline] = body["deadlines"]
    assert (deadline["kind"], deadline["due_date"], deadline["state"]) == (
        "merchant_negotiation", due.isoformat(), "running")
    # The clock runs out at midnight Shanghai time after the due date.
    assert datetime.fromisoformat(deadline["due_at"]) == datetime.fromisoformat(
        f"{due + timedelta(days=1)}T00:00:00+08:00")
    assert [(entry["status"], entry["actor_role"]) for entry in body["timeline"]] == [
        ("submitted", "consumer"), ("with_merchant", "system")]

    events = await outbox_of(engine, body["id"])
    assert [event["event_type"] for event in events] == [
        "complaints.complaint.filed.v1", "complaints.complaint.routed.v1"]
    assert {event["topic"] for event in events} == {"complaints.complaint"}
    filed, routed = (event["payload"] for event in events)
    assert filed["case_no"] == body["case_no"]
    assert filed["merchant_id"] == str(merchant_id)
    assert filed["request_amount_fen"] == 29900
    assert routed["target"] == "merchant"
    assert routed["merchant_id"] == str(merchant_id)
    assert routed["consumer_id"] == sub
    # The event keeps the masked name in clear; the full name, which mediation needs, only sealed.
    complainant = ComplainantForMerchant.model_validate(routed["complainant"])
    assert (complainant.name, complainant.phone_masked) == ("王*", "138****8000")
    assert "王芳" not in str(routed)
    assert complainant.full_name(PiiCipher(PII_KEY), complaint_id=uuid.UUID(body["id"])) == "王芳"
    assert routed["due_date"] == due.isoformat()
    assert "13800138000" not in str(routed)


async def test_a_business_not_in_the_registry_goes_to_the_regulator(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
) -> None:
    region = area.second
    _, auth = consumer()

    response = await client.post(PATH, json=complaint_body(respondent=unregistered(region)), headers=auth)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending_acceptance"
    assert body["region_code"] == region
    assert body["respondent"] == {"merchant_id": None, "online": None, **unregistered(region)}
    filed_on = local_date(datetime.fromisoformat(body["filed_at"]))
    assert [(d["kind"], d["due_date"], d["state"]) for d in body["deadlines"]] == [
        ("initial_review", add_working_days(filed_on, 7).isoformat(), "running")]
    assert body["timeline"][-1]["status"] == "pending_acceptance"
    assert body["timeline"][-1]["actor_role"] == "system"
    routed = (await outbox_of(engine, body["id"]))[1]["payload"]
    assert routed["target"] == "regulator"
    assert routed["merchant_id"] is None


async def test_without_green_channel_an_enrolled_merchant_is_left_to_the_regulator(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, area: Area,
) -> None:
    region = area.first
    merchant_id = await enrolled_merchant(region)
    _, auth = consumer()

    response = await client.post(
        PATH, json=complaint_body(green_channel=False, respondent={"merchant_id": str(merchant_id)}), headers=auth)

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending_acceptance"
    assert response.json()["region_code"] == region
    assert response.json()["deadlines"][0]["kind"] == "initial_review"


async def test_a_suspended_merchant_receives_no_complaints(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, change_enrollment: ChangeEnrollment,
    area: Area,
) -> None:
    region = area.first
    merchant_id = await enrolled_merchant(region)
    await change_enrollment(EnrollmentSuspended, merchant_id)
    _, auth = consumer()

    response = await client.post(PATH, json=complaint_body(respondent={"merchant_id": str(merchant_id)}),
                                 headers=auth)

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending_acceptance"
    assert response.json()["respondent"]["merchant_id"] == str(merchant_id)


async def test_an_unknown_merchant_id_without_a_region_is_refused(
    client: httpx.AsyncClient, consumer: Consumer, count: Count,
) -> None:
    _, auth = consumer()
    before = (await count("complaint"), await count("outbox"))

    response = await client.post(PATH, json=complaint_body(respondent={"merchant_id": str(uuid.uuid4())}),
                                 headers=auth)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["body.respondent.merchant_id"]
    assert (await count("complaint"), await count("outbox")) == before


async def test_an_unknown_merchant_id_with_a_region_goes_to_that_regulator(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    region = area.third
    _, auth = consumer()
    respondent = {"merchant_id": str(uuid.uuid4()), **unregistered(region)}

    response = await client.post(PATH, json=complaint_body(respondent=respondent), headers=auth)

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending_acceptance"
    assert response.json()["region_code"] == region
    assert response.json()["respondent"]["merchant_id"] is None


async def test_case_numbers_count_up_per_region_and_day(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    _, auth = consumer()
    numbers = []
    for region in (area.first, area.first, area.second, area.first):
        response = await client.post(PATH, json=complaint_body(respondent=unregistered(region)), headers=auth)
        assert response.status_code == 201, response.text
        numbers.append(response.json()["case_no"])

    day = numbers[0].split("-")[2]
    first, second = (int(numbers[index].rsplit("-", 1)[1]) for index in (0, 2))
    assert numbers == [f"TS-{area.first}-{day}-{first:06d}", f"TS-{area.first}-{day}-{first + 1:06d}",
                       f"TS-{area.second}-{day}-{second:06d}", f"TS-{area.first}-{day}-{first + 2:06d}"]


async def test_concurrent_filings_of_one_region_get_consecutive_numbers_everywhere(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
) -> None:
    _, auth = consumer()
    body = complaint_body(respondent=unregistered(area.first))

    responses = await asyncio.gather(*(client.post(PATH, json=body, headers=auth) for _ in range(8)))

    assert [response.status_code for response in responses] == [201] * 8
    numbers = sorted(response.json()["case_no"] for response in responses)
    first = int(numbers[0].rsplit("-", 1)[1])
    prefix = numbers[0].rsplit("-", 1)[0]
    assert numbers == [f"{prefix}-{sequence:06d}" for sequence in range(first, first + 8)]
    # The number is taken last, then written into what was staged before it: the row and every event agree.
    for response in responses:
        filed = response.json()
        async with engine.connect() as connection:
            stored = (await connection.execute(text("SELECT case_no FROM complaint WHERE id = :id"),
                                               {"id": filed["id"]})).scalar_one()
        assert stored == filed["case_no"]
        assert {event["payload"]["case_no"] for event in await outbox_of(engine, filed["id"])} == {filed["case_no"]}


async def test_personal_data_is_stored_encrypted_with_a_blind_index(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
) -> None:
    _, auth = consumer()
    response = await client.post(PATH, json=complaint_body(respondent=unregistered(area.first)),
                                 headers=auth)
    assert response.status_code == 201, response.text
    complaint_id = uuid.UUID(response.json()["id"])

    async with engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT complainant_name_enc, complainant_phone_enc, complainant_address_enc, phone_index "
            "FROM complaint WHERE id = :id"), {"id": complaint_id})).one()
    stored = b"".join(bytes(value) for value in row)
    for plaintext in ("13800138000", "王芳", "昆仑中路"):
        assert plaintext.encode() not in stored
    cipher = PiiCipher(PII_KEY)
    assert cipher.decrypt(bytes(row.complainant_phone_enc), context=f"complaint:{complaint_id}:phone") == "13800138000"
    assert bytes(row.phone_index) == cipher.blind_index("13800138000")


async def test_the_purchase_may_be_left_out(client: httpx.AsyncClient, consumer: Consumer, area: Area) -> None:
    _, auth = consumer()
    body = complaint_body(respondent=unregistered(area.first))
    del body["purchase"]

    response = await client.post(PATH, json=body, headers=auth)

    assert response.status_code == 201, response.text
    assert response.json()["purchase"] is None
