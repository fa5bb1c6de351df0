"""Bulk transfers from 12315 and 12345: each valid row filed whole in its own transaction, each refused row reported
with its row, column and reason, nothing half-written, and a re-import filing nothing twice."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import httpx
import orjson
from complaints_support import PII_KEY, Area, bearer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from complaints.imports.schemas import COLUMNS
from servicekit.auth import Audience, Role
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

IMPORTS = "/v1/regulator/imports"


def ticket(number: str, region: str, **changes: Any) -> dict[str, Any]:
    row = {
        "ticket_no": number, "received_at": "2026-11-30 09:15:00", "consumer_name": "张伟",
        "consumer_phone": f"135{random.randrange(10**8):08d}", "consumer_address": "青海省德令哈市长江路5号",
        "business_name": "柴达木特产商行", "business_address": "青海省德令哈市柴达木路20号",
        "business_uscc": "", "business_region_code": region, "sector": "online_shopping",
        "category": "food.local_specialty", "kind": "complaint", "request_type": "refund",
        "request_amount_fen": "12800", "facts": "购买的黑枸杞与宣传不符。", "request": "退货退款",
        "purchase_date": "2026-11-02", "purchase_amount_fen": "12800", "order_no": "TB20261102001",
    }
    row.update(changes)
    return row


def as_csv(rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode()


async def cases_of(engine: AsyncEngine, prefix: str) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(text(
            "SELECT c.id, c.source_ticket, c.channel, c.status, c.region_code, c.facts_enc, "
            "(SELECT count(*) FROM deadline d WHERE d.complaint_id = c.id) AS clocks, "
            "(SELECT count(*) FROM complaint_event e WHERE e.complaint_id = c.id) AS entries, "
            "(SELECT count(*) FROM outbox o WHERE o.aggregate_id = c.id::text) AS events, "
            "(SELECT e.details->>'code' FROM complaint_event e WHERE e.complaint_id = c.id ORDER BY e.at, e.id"
            " LIMIT 1) AS submitted_code "
            "FROM complaint c WHERE c.source_ticket LIKE :prefix ORDER BY c.source_ticket"), {"prefix": prefix + "%"})
        cipher = PiiCipher(PII_KEY)
        return [{**row, "facts": cipher.decrypt(row["facts_enc"], context=f"complaint:{row['id']}:facts")}
                for row in rows.mappings()]


async def test_an_export_is_filed_row_by_row_with_refusals_and_a_reimport_files_nothing_twice(
    client: httpx.AsyncClient, tokens: Tokens, area: Area, engine: AsyncEngine,
) -> None:
    run = f"T{random.randrange(10**9):09d}"
    regulator = bearer(tokens.regulator(region=area.prefecture))
    outside = "632801" if not area.prefecture.startswith("6328") else "630102"
    rows = [
        ticket(f"{run}-1", area.first),
        ticket(f"{run}-2", area.second, consumer_phone="1234"),                 # malformed phone
        ticket(f"{run}-3", outside),                                             # not a region the caller governs
        ticket(f"{run}-4", area.third, sector="spaceships", received_at="yesterday"),  # two bad cells
        ticket(f"{run}-1", area.first),                                          # the same ticket again
        ticket(f"{run}-5", area.first, business_uscc="92632801MA7YYYYY1Z"),      # wrong check character
        ticket(f"{run}-6", area.second, request="", kind="report"),
    ]
    headers = {**regulator, "Content-Type": "text/csv"}

    first = await client.post(IMPORTS, params={"source": "12315"}, content=as_csv(rows), headers=headers)

    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["rows"], report["filed"], report["duplicates"]) == (7, 2, 1), report["refused"]
    refused = {(refusal["row"], refusal["field"]) for refusal in report["refused"]}
    assert refused == {(2, "consumer_phone"), (3, "business_region_code"), (4, "sector"), (4, "received_at"),
                       (6, "business_uscc")}
    assert all(refusal["reason"] for refusal in report["refused"])
    # What a screen words in its reader's language: a code per refusal, with what its wording needs.
    codes = {(refusal["row"], refusal["field"]): (refusal["code"], refusal["params"]) for refusal in report["refused"]}
    assert codes[(2, "consumer_phone")][0] == "string_pattern_mismatch"
    assert codes[(2, "consumer_phone")][1]["pattern"]
    assert codes[(3, "business_region_code")] == ("region_not_governed",
                                                  {"region": outside, "governed": area.prefecture})
    assert codes[(4, "sector")] == ("sector_unknown", {})
    assert codes[(4, "received_at")][0] == "datetime_from_date_parsing", codes
    assert codes[(6, "business_uscc")][0] == "string_pattern_mismatch"
    assert [case["row"] for case in report["cases"]] == [1, 7]
    filed = await cases_of(engine, f"12315:{run}")
    assert [case["source_ticket"] for case in filed] == [f"12315:{run}-1", f"12315:{run}-6"]
    assert {case["channel"] for case in filed} == {"transfer_12315"}
    # Each filed row is whole: its clock, its timeline and its events; the refused rows left nothing behind.
    assert all(case["clocks"] == 1 and case["entries"] >= 1 and case["events"] >= 1 for case in filed)
    assert {case["submitted_code"] for case in filed} == {"imported"}
    assert filed[0]["facts"] == "购买的黑枸杞与宣传不符。\n主要诉求：退货退款"
    assert filed[0]["status"] == "pending_acceptance"

    again = (await client.post(IMPORTS, params={"source": "12315"}, content=as_csv(rows), headers=headers)).json()
    from_12345 = (await client.post(IMPORTS, params={"source": "12345"}, content=orjson.dumps(rows[:1]),
                                    headers={**regulator, "Content-Type": "application/json"})).json()

    assert (again["filed"], again["duplicates"]) == (0, 3)
    assert len(await cases_of(engine, f"12315:{run}")) == 2
    assert from_12345["filed"] == 1  # the ticket numbers of two sources never collide
    assert [case["channel"] for case in await cases_of(engine, f"12345:{run}")] == ["transfer_12345"]


async def test_each_refusal_names_its_check_by_a_code_a_screen_can_word(
    client: httpx.AsyncClient, tokens: Tokens, area: Area,
) -> None:
    run = f"C{random.randrange(10**9):09d}"
    rows = [ticket(f"{run}-1", area.first, business_uscc="91632801MA7XXXXX0R"),   # a well-formed code, wrong check
            ticket(f"{run}-2", area.first, purchase_date="2099-01-01", category="food.spaceships"),
            ticket(f"{run}-3", "999999", facts="x" * 4001)]
    answer = await client.post(IMPORTS, params={"source": "12315"}, content=as_csv(rows),
                               headers={**bearer(tokens.regulator(region=area.prefecture)), "Content-Type": "text/csv"})

    assert answer.status_code == 200, answer.text
    codes = {(refusal["row"], refusal["field"]): (refusal["code"], refusal["params"])
             for refusal in answer.json()["refused"]}
    assert codes == {(1, "business_uscc"): ("uscc_check", {}), (2, "purchase_date"): ("date_in_future", {}),
                     (2, "category"): ("category_unknown", {}), (3, "business_region_code"): ("region_unknown", {}),
                     (3, "facts"): ("string_too_long", {"max_length": 4000})}


async def test_a_file_that_is_not_an_export_is_refused_whole(
    client: httpx.AsyncClient, tokens: Tokens, area: Area,
) -> None:
    regulator = bearer(tokens.regulator(region=area.prefecture))
    missing_column = as_csv([], columns=tuple(name for name in COLUMNS if name != "facts"))

    no_facts = await client.post(IMPORTS, params={"source": "12315"}, content=missing_column,
                                 headers={**regulator, "Content-Type": "text/csv"})
    not_json = await client.post(IMPORTS, params={"source": "12345"}, content=b"{", headers={
        **regulator, "Content-Type": "application/json"})
    wrong_type = await client.post(IMPORTS, params={"source": "12345"}, content=b"x", headers={
        **regulator, "Content-Type": "text/plain"})
    unknown_source = await client.post(IMPORTS, params={"source": "110"}, content=as_csv([]),
                                       headers={**regulator, "Content-Type": "text/csv"})
    mediator = bearer(tokens.issuer.issue(sub="mediator-1", aud=Audience.REGULATOR, roles=[Role.MEDIATOR],
                                          region=area.prefecture))
    not_a_regulator = await client.post(IMPORTS, params={"source": "12315"}, content=as_csv([]),
                                        headers={**mediator, "Content-Type": "text/csv"})

    assert no_facts.status_code == not_json.status_code == unknown_source.status_code == 422
    assert "facts" in no_facts.json()["detail"]
    assert wrong_type.status_code == 415
    assert not_a_regulator.status_code == 403
