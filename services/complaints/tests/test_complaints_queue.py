"""Issue types, transfers between bureaus (Order 121 Art. 13, 41), hotline filing and the regulator's work queue."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import holidays
import httpx
from complaints_support import Area, Consumer, Count, Seed, bearer, complaint_body, file_case, unregistered
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from complaints.complaint.enums import IssueType
from servicekit.auth import Audience, Role, consumer_subject
from servicekit.calendar import local_date
from servicekit.testing.plugin import Tokens

FILE = "/v1/consumer/complaints"
MINE = "/v1/consumer/complaints"
QUEUE = "/v1/regulator/complaints"
HOTLINE = "/v1/regulator/hotline-complaints"


def independent_due_date(start: date, working_days: int) -> date:
    """The last day of `working_days` working days after `start` (start not counted), from the `holidays` package's
    China calendar read directly: Monday to Friday unless a public holiday or day off, plus the weekends worked."""
    china = holidays.country_holidays("CN", years=range(start.year, start.year + 2))
    weekend_workdays = set(china.weekend_workdays)
    day, counted = start, 0
    while counted < working_days:
        day += timedelta(days=1)
        if day in weekend_workdays or (day.weekday() < 5 and day not in china):
            counted += 1
    return day


def transfer_entry(detail: dict[str, Any]) -> dict[str, Any]:
    [entry] = [entry for entry in detail["timeline"] if entry["code"] == "transferred"]
    return entry


async def test_transfer_hands_the_case_to_the_competent_bureau_with_a_new_clock(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, count: Count,
) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first)
    sender = bearer(tokens.regulator(region=area.first, sub="reg-sender"))
    receiver = bearer(tokens.regulator(region=area.second, sub="reg-receiver"))

    response = await client.post(f"{QUEUE}/{filed['id']}/transfer",
                                 json={"to_region": area.second, "reason": "经营者住所地在另一县"}, headers=sender)

    assert response.status_code == 200, response.text
    moved = response.json()
    transfer_day = local_date(datetime.fromisoformat(moved["transferred_at"]))
    expected_due = independent_due_date(transfer_day, 7)
    assert moved["region_code"] == area.second
    assert moved["from_region"] == area.first
    assert moved["status"] == "pending_acceptance"
    assert date.fromisoformat(moved["due_date"]) == expected_due

    received = (await client.get(f"{QUEUE}/{filed['id']}", headers=receiver)).json()
    assert received["region_code"] == area.second
    assert received["status"] == "pending_acceptance"
    assert received["transferred_from"] == area.first
    running = [d for d in received["deadlines"] if d["state"] == "running"]
    assert [(d["kind"], date.fromisoformat(d["due_date"])) for d in running] == [("initial_review", expected_due)]
    assert [d["state"] for d in received["deadlines"] if d["kind"] == "initial_review"] == ["ended", "running"]

    assert (await client.get(f"{QUEUE}/{filed['id']}", headers=sender)).status_code == 404
    sender_queue = (await client.get(QUEUE, headers=sender)).json()["items"]
    receiver_queue = (await client.get(QUEUE, headers=receiver)).json()["items"]
    assert filed["id"] not in {item["id"] for item in sender_queue}
    [listed] = [item for item in receiver_queue if item["id"] == filed["id"]]
    assert local_date(datetime.fromisoformat(listed["due_at"]) - timedelta(microseconds=1)) == expected_due

    mine = (await client.get(f"{MINE}/{filed['id']}", headers=auth)).json()
    entry = transfer_entry(mine)
    assert entry["params"] == {"from_region": area.first, "to_region": area.second, "reason": "经营者住所地在另一县"}
    assert entry["status"] == "pending_acceptance"
    assert await count("outbox", "event_type = 'complaints.complaint.transferred.v1' AND aggregate_id = :id",
                       id=filed["id"]) == 1

    # The receiving bureau decides as on any case of its own.
    accepted = await client.post(f"{QUEUE}/{filed['id']}/accept", headers=receiver)
    assert accepted.status_code == 200, accepted.text


async def test_transfer_refusals(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first)
    own = bearer(tokens.regulator(region=area.first))
    path = f"{QUEUE}/{filed['id']}/transfer"

    same = await client.post(path, json={"to_region": area.first, "reason": "x"}, headers=own)
    unknown = await client.post(path, json={"to_region": "999999", "reason": "x"}, headers=own)
    no_reason = await client.post(path, json={"to_region": area.second}, headers=own)
    other_bureau = await client.post(path, json={"to_region": area.third, "reason": "x"},
                                     headers=bearer(tokens.regulator(region=area.second)))
    as_consumer = await client.post(path, json={"to_region": area.second, "reason": "x"}, headers=auth)
    nobody = await client.post(f"{QUEUE}/{uuid.uuid4()}/transfer", json={"to_region": area.second, "reason": "x"},
                               headers=own)

    assert same.status_code == 422
    assert same.json()["errors"][0]["code"] == "same_region"
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.to_region"
    assert no_reason.status_code == 422
    assert other_bureau.status_code == 404
    assert nobody.status_code == 404
    assert as_consumer.status_code == 403

    withdrawn = await client.post(f"{MINE}/{filed['id']}/withdraw", headers=auth)
    assert withdrawn.status_code == 200
    closed = await client.post(path, json={"to_region": area.second, "reason": "x"}, headers=own)
    assert closed.status_code == 409
    assert closed.json()["current_status"] == "withdrawn"


async def test_a_complaint_with_the_enterprise_cannot_be_transferred(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, enrolled_merchant: Seed,
) -> None:
    _, auth = consumer()
    merchant_id = await enrolled_merchant(area.first)
    response = await client.post(FILE, json=complaint_body(respondent={"merchant_id": str(merchant_id)}),
                                 headers=auth)
    assert response.json()["status"] == "with_merchant"

    refused = await client.post(f"{QUEUE}/{response.json()['id']}/transfer",
                                json={"to_region": area.second, "reason": "x"},
                                headers=bearer(tokens.regulator(region=area.first)))

    assert refused.status_code == 409


async def test_issue_type_is_chosen_by_the_consumer_and_corrected_by_the_regulator(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    _, auth = consumer()
    chosen = await file_case(client, auth, area.first, issue_type="false_advertising")
    default = await file_case(client, auth, area.first)
    wrong = await client.post(FILE, json=complaint_body(respondent=unregistered(area.first), issue_type="fraud"),
                              headers=auth)
    regulator = bearer(tokens.regulator(region=area.first))

    assert chosen["issue_type"] == "false_advertising"
    assert default["issue_type"] == "other"
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "body.issue_type"

    corrected = await client.post(f"{QUEUE}/{chosen['id']}/issue-type", json={"issue_type": "price"},
                                  headers=regulator)
    again = await client.post(f"{QUEUE}/{chosen['id']}/issue-type", json={"issue_type": "price"}, headers=regulator)
    invalid = await client.post(f"{QUEUE}/{chosen['id']}/issue-type", json={"issue_type": "fraud"},
                                headers=regulator)
    elsewhere = await client.post(f"{QUEUE}/{chosen['id']}/issue-type", json={"issue_type": "quality"},
                                  headers=bearer(tokens.regulator(region=area.second)))

    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["issue_type"] == "price"
    assert again.status_code == 200
    assert invalid.status_code == 422
    assert elsewhere.status_code == 404
    mine = (await client.get(f"{MINE}/{chosen['id']}", headers=auth)).json()
    assert mine["issue_type"] == "price"
    entries = [entry for entry in mine["timeline"] if entry["code"] == "issue_type_corrected"]
    assert [entry["params"] for entry in entries] == [{"from": "false_advertising", "to": "price"}]


async def test_a_hotline_operator_files_for_a_caller(
    client: httpx.AsyncClient, tokens: Tokens, area: Area, settings: Any,
) -> None:
    operator = bearer(tokens.issuer.issue(sub="hotline-7", aud=Audience.REGULATOR, roles=[Role.HOTLINE],
                                          region=area.prefecture))
    body = complaint_body(respondent=unregistered(area.first), issue_type="quality", channel="app")

    filed = await client.post(HOTLINE, json=body, headers=operator)
    anonymous = await client.post(HOTLINE, json={**body, "kind": "report", "complainant": None}, headers=operator)
    not_an_operator = await client.post(HOTLINE, json=body, headers=bearer(tokens.regulator(region=area.first)))

    assert filed.status_code == 201, filed.text
    case = filed.json()
    assert case["channel"] == "hotline"
    assert case["issue_type"] == "quality"
    assert case["timeline"][0]["actor_role"] == "hotline"
    assert anonymous.status_code == 422
    assert not_an_operator.status_code == 403
    caller = consumer_subject(body["complainant"]["phone"], settings.subject_key.get_secret_value())
    followed = await client.get(f"{MINE}/{case['id']}", headers=bearer(tokens.consumer(caller)))
    assert followed.status_code == 200
    queue = (await client.get(QUEUE, params={"channel": "hotline"},
                              headers=bearer(tokens.regulator(region=area.first)))).json()["items"]
    assert case["id"] in {item["id"] for item in queue}


async def _all_pages(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await client.get(QUEUE, params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
                                headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def test_the_queue_filters_and_sorts_by_due_date(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, enrolled_merchant: Seed,
    engine: AsyncEngine,
) -> None:
    # The area is shared with other tests: every business here has this token in its name, and every query below
    # filters by it (`business`), so the queue shows exactly these cases.
    _, auth = consumer()
    token = f"队列{uuid.uuid4().hex[:8]}"
    county = area.first
    respondent = {**unregistered(county), "name": f"{token}小卖部"}
    merchant_id = await enrolled_merchant(county, name=f"{token}盐湖特产店")
    with_merchant = (await client.post(FILE, json=complaint_body(respondent={"merchant_id": str(merchant_id)},
                                                                 issue_type="quality"), headers=auth)).json()
    report = await file_case(client, auth, county, respondent=respondent, kind="report", sector="food",
                             channel="web")
    first = await file_case(client, auth, county, respondent=respondent, issue_type="price")
    second = await file_case(client, auth, county, respondent=respondent, issue_type="price", channel="hotline")
    overdue = await file_case(client, auth, county, respondent=respondent, issue_type="safety")
    withdrawn = await file_case(client, auth, county, respondent=respondent)
    assert (await client.post(f"{MINE}/{withdrawn['id']}/withdraw", headers=auth)).status_code == 200
    async with engine.begin() as connection:
        # The clock of this one ran out yesterday (as the breach sweeper would find it).
        await connection.execute(text("UPDATE deadline SET due_at = now() - interval '1 day', state = 'breached', "
                                      "breached_at = now() WHERE complaint_id = :id"), {"id": overdue["id"]})
    staff = bearer(tokens.regulator(region=area.prefecture))

    async def ids(**params: Any) -> list[str]:
        response = await client.get(QUEUE, params={"business": token, **params}, headers=staff)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    # Overdue first, then initial reviews (7 WD) in filing order, negotiation (10 WD), report verification (15 WD),
    # then the cases without a clock, newest first.
    order = [overdue["id"], first["id"], second["id"], with_merchant["id"], report["id"], withdrawn["id"]]
    assert await ids() == order
    assert [item["id"] for item in await _all_pages(client, staff, business=token)] == order
    assert await ids(overdue="true") == [overdue["id"]]
    assert await ids(status="pending_acceptance") == [overdue["id"], first["id"], second["id"]]
    # What awaits a decision, complaints and reports alike: the console's default view.
    assert await ids(status=["pending_acceptance", "received", "verifying"]) == [overdue["id"], first["id"],
                                                                               second["id"], report["id"]]
    assert await ids(kind="report") == [report["id"]]
    assert await ids(issue_type="price") == [first["id"], second["id"]]
    assert await ids(channel="hotline") == [second["id"]]
    assert await ids(sector="food") == [report["id"]]
    assert await ids(merchant_id=str(merchant_id)) == [with_merchant["id"]]
    assert await ids(business=f"{token}盐湖") == [with_merchant["id"]]
    assert await ids(case_no=first["case_no"]) == [first["id"]]
    assert await ids(region=county) == order
    assert await ids(region=area.second) == []
    review_due = date.fromisoformat(first["deadlines"][0]["due_date"])
    assert await ids(due_before=review_due.isoformat()) == [overdue["id"]]
    assert await ids(due_before=(review_due + timedelta(days=1)).isoformat()) == [overdue["id"], first["id"],
                                                                                  second["id"]]
    items = (await client.get(QUEUE, params={"business": token}, headers=staff)).json()["items"]
    assert items[-1]["due_at"] is None
    assert {item["issue_type"] for item in items} == {"safety", "price", "quality", "other"}
    assert {IssueType(item["issue_type"]) for item in items} <= set(IssueType)
    outside = await client.get(QUEUE, params={"region": "632801" if area.prefecture != "632800" else "630102"},
                               headers=staff)
    bad_cursor = await client.get(QUEUE, params={"cursor": "bm90IGEgY3Vyc29y"}, headers=staff)
    assert outside.status_code == 403
    assert bad_cursor.status_code == 422


async def test_a_case_written_with_its_clock_in_one_statement_gets_the_clocks_due_instant(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
) -> None:
    """A filing inserts the case and its clock in one statement (migration 0021): the case row keeps the due instant
    it is given, and if that were wrong the clock's trigger puts the right one at the end of the statement. Here a
    copy of a filed case goes in with a wrong one, beside a copy of its clock."""
    _, auth = consumer()
    filed = await file_case(client, auth, area.first)
    copy = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(text("""
            WITH copied_case AS (
                INSERT INTO complaint
                SELECT (jsonb_populate_record(NULL::complaint, to_jsonb(filed) || jsonb_build_object(
                    'id', CAST(:copy AS uuid), 'case_no', CAST(:case_no AS text),
                    'queue_due_at', '2030-01-01T00:00:00Z'))).*
                FROM complaint filed WHERE filed.id = CAST(:filed AS uuid)
            ), copied_clock AS (
                INSERT INTO deadline
                SELECT (jsonb_populate_record(NULL::deadline, to_jsonb(clock) || jsonb_build_object(
                    'id', gen_random_uuid(), 'complaint_id', CAST(:copy AS uuid)))).*
                FROM deadline clock WHERE clock.complaint_id = CAST(:filed AS uuid)
            )
            SELECT 1"""), {"copy": str(copy), "case_no": f"COPY-{copy.hex[:20]}", "filed": filed["id"]})
        due = (await connection.execute(text(
            "SELECT queue_due_at FROM complaint WHERE id = CAST(:copy AS uuid)"), {"copy": str(copy)})).scalar_one()
        expected = (await connection.execute(text(
            "SELECT due_at FROM deadline WHERE complaint_id = CAST(:filed AS uuid)"),
            {"filed": filed["id"]})).scalar_one()
        # Nothing of the copy stays behind for other tests to count.
        await connection.execute(text("DELETE FROM deadline WHERE complaint_id = CAST(:copy AS uuid)"),
                                 {"copy": str(copy)})
        await connection.execute(text("DELETE FROM complaint WHERE id = CAST(:copy AS uuid)"), {"copy": str(copy)})
    assert due == expected
