"""Anti-abuse flags for the regulator, the masked CSV export, and the de-identified public list."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

import httpx
from complaints_support import PII_KEY, Area, Consumer, Seed, bearer, file_case
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints.complaint import decisions
from complaints.database import outbox
from complaints.publisher import Publisher
from servicekit.contracts.mediation_v1 import CaseSettled, NegotiationFailed
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

PUBLISHER = Publisher(outbox=Outbox(outbox, "complaints"), source="complaints", cipher=PiiCipher(PII_KEY))


async def test_the_same_phone_across_complainants_is_flagged_never_refused(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    address = f"格尔木市某路{uuid.uuid4().hex[:6]}号"
    _, first = consumer()
    _, second = consumer()
    one = await file_case(client, first, area.first,
                          complainant={"name": "甲", "phone": phone, "address": address})
    two = await file_case(client, second, area.first,
                          complainant={"name": "乙", "phone": phone, "address": address.replace(" ", "")})
    staff = bearer(tokens.regulator(region=area.first))

    seen = (await client.get(f"/v1/regulator/complaints/{two['id']}", headers=staff)).json()
    owner_view = (await client.get(f"/v1/consumer/complaints/{two['id']}", headers=second)).json()

    flags = {flag["code"]: flag for flag in seen["flags"]}
    assert flags["same_phone"]["case_nos"] == [one["case_no"]]
    assert flags["same_address"]["case_nos"] == [one["case_no"]]
    assert "Art. 17" in flags["same_phone"]["detail"]
    assert seen["status"] == "pending_acceptance"
    assert owner_view["flags"] is None


async def test_many_complaints_by_one_person_against_one_business_are_flagged(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    _, auth = consumer()
    business = {"name": f"重复投诉测试店{uuid.uuid4().hex[:6]}", "region_code": area.first}
    filed = [await file_case(client, auth, area.first, respondent=business) for _ in range(3)]
    other = await file_case(client, auth, area.first)
    staff = bearer(tokens.regulator(region=area.first))

    flagged = (await client.get(f"/v1/regulator/complaints/{filed[-1]['id']}", headers=staff)).json()
    unrelated = (await client.get(f"/v1/regulator/complaints/{other['id']}", headers=staff)).json()

    [repeat] = [flag for flag in flagged["flags"] if flag["code"] == "repeated_against_business"]
    assert repeat["case_nos"] == [case["case_no"] for case in filed]
    assert all(flag["code"] != "repeated_against_business" for flag in unrelated["flags"])


async def test_the_export_masks_personal_data(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, own_area: Area,
) -> None:
    _, auth = consumer()
    identity = {"name": "欧阳娜娜", "phone": "13812345678", "address": "格尔木市秘密路1号"}
    complaint = await file_case(client, auth, own_area.first, complainant=identity)
    formula = {"name": "=HYPERLINK(\"http://x\")", "region_code": own_area.second}
    report = await file_case(client, auth, own_area.second, kind="report", respondent=formula)

    response = await client.get("/v1/regulator/export.csv", params={"region": own_area.prefecture},
                                headers=bearer(tokens.regulator(region=own_area.prefecture)))
    outside = await client.get("/v1/regulator/export.csv", params={"region": own_area.prefecture},
                               headers=bearer(tokens.regulator(region=own_area.first)))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # Excel reads the Chinese as UTF-8
    rows = list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert [row["case_no"] for row in rows] == [complaint["case_no"], report["case_no"]]
    assert (rows[0]["complainant_name"], rows[0]["complainant_phone"]) == ("欧***", "138****5678")
    for secret in ("欧阳娜娜", "13812345678", "秘密路"):
        assert secret not in response.text
    assert rows[1]["respondent_name"] == "'=HYPERLINK(\"http://x\")"  # a spreadsheet will not run it
    assert outside.status_code == 403


async def test_the_public_list_shows_closed_complaints_de_identified(
    client: httpx.AsyncClient, consumer: Consumer, own_area: Area, enrolled_merchant: Seed,
    sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens,
) -> None:
    merchant_id = await enrolled_merchant(own_area.first, name="公示测试企业")
    _, auth = consumer()
    consented = await file_case(client, auth, own_area.first, respondent={"merchant_id": str(merchant_id)},
                                facts="商品与描述不符", disclosure_consent=True)
    private = await file_case(client, auth, own_area.first, respondent={"merchant_id": str(merchant_id)},
                              facts="私密的事实陈述")
    still_open = await file_case(client, auth, own_area.first, respondent={"merchant_id": str(merchant_id)})
    cipher = PiiCipher(PII_KEY)
    common = {"merchant_id": merchant_id, "region_code": own_area.first, "at": datetime.now(UTC)}
    async with sessionmaker() as session, session.begin():
        await decisions.record_settled(session, CaseSettled(
            case_id=uuid.uuid4(), complaint_id=uuid.UUID(consented["id"]), **common, stage="negotiation",
            agreement_id=uuid.uuid4(), agreement_hash="0" * 64, amount_fen=29900, fulfil_by=None), PUBLISHER)
    async with sessionmaker() as session, session.begin():
        await decisions.record_negotiation_failed(session, NegotiationFailed(
            case_id=uuid.uuid4(), complaint_id=uuid.UUID(private["id"]), **common, reason="declined"), cipher,
            PUBLISHER)
    accepted = await client.post(f"/v1/regulator/complaints/{private['id']}/accept",
                                 headers=bearer(tokens.regulator(region=own_area.first)))
    assert accepted.status_code == 200
    async with sessionmaker() as session, session.begin():
        await decisions.record_settled(session, CaseSettled(
            case_id=uuid.uuid4(), complaint_id=uuid.UUID(private["id"]), **common, stage="mediation",
            agreement_id=uuid.uuid4(), agreement_hash="0" * 64, amount_fen=100, fulfil_by=None), PUBLISHER)

    response = await client.get("/v1/public/complaints", params={"merchant_id": str(merchant_id)})
    paged = await client.get("/v1/public/complaints", params={"merchant_id": str(merchant_id), "limit": 1})
    as_csv = await client.get("/v1/public/complaints", params={"merchant_id": str(merchant_id), "format": "csv"})

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["case_no"] for item in items] == [private["case_no"], consented["case_no"]]
    assert still_open["case_no"] not in response.text
    assert items[1]["facts"] == "商品与描述不符"
    assert items[0]["facts"] is None
    assert (items[1]["outcome"], items[1]["recovered_fen"], items[1]["answered_in_time"]) == (
        "closed_settled", 29900, True)
    for secret in ("王芳", "13800138000", "138****8000", "昆仑中路", "私密"):
        assert secret not in response.text + as_csv.text
    assert paged.json()["next_cursor"] is not None
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(as_csv.text)))) == 2
