"""Intake of Order 121 Art. 10-13: ID number, agent with power of attorney, joint complaints, online sellers and
their jurisdiction, the sector and category code lists."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from complaints_support import Area, Consumer, bearer, complaint_body, file_case, unregistered
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from complaints import catalog
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.testing.plugin import Tokens

NEXT_YEAR = (local_date(utcnow()) + timedelta(days=365)).isoformat()
AGENT = {"name": "李律师", "phone": "13900139000", "id_number": "11010519491231002X",
         "power_of_attorney": {"matters": "代为投诉并参加调解", "powers": "陈述、提交材料、接受调解方案",
                               "valid_until": NEXT_YEAR}}
JOINT = {"consumers": [{"name": "张三", "phone": "13700137000", "address": "格尔木市河西街道1号"},
                       {"name": "赵四", "phone": "13600136000"}],
         "representatives": [0, 2], "consented": True}


async def test_an_agent_files_a_joint_complaint_and_only_staff_and_the_owner_see_the_parties(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, engine: AsyncEngine,
) -> None:
    _, auth = consumer()
    complainant = {"name": "王芳", "phone": "13800138000", "address": "青海省格尔木市昆仑中路12号",
                   "id_number": "632801199001011239"}
    filed = await file_case(client, auth, area.first, complainant=complainant, agent=AGENT, joint=JOINT)

    assert filed["complainant"] == complainant
    assert filed["parties"]["agent"] == AGENT
    assert filed["parties"]["joint"]["representatives"] == [0, 2]
    assert [c["name"] for c in filed["parties"]["joint"]["consumers"]] == ["张三", "赵四"]
    staff = await client.post(f"/v1/regulator/complaints/{filed['id']}/reveal",
                              json={"purpose": "verify_identity", "note": "核实代理权限"},
                              headers=bearer(tokens.regulator(region=area.prefecture)))
    assert staff.json()["parties"] == filed["parties"]
    async with engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT parties_enc, complainant_id_number_enc, has_agent, consumer_count FROM complaint WHERE id = :id"),
            {"id": uuid.UUID(filed["id"])})).one()
        events = (await connection.execute(text("SELECT payload::text FROM outbox WHERE aggregate_id = :id"),
                                           {"id": filed["id"]})).scalars().all()
    assert (row.has_agent, row.consumer_count) == (True, 3)
    for secret in ("李律师", "11010519491231002X", "张三", "13700137000", "632801199001011239"):
        assert secret.encode() not in bytes(row.parties_enc) + bytes(row.complainant_id_number_enc)
        assert all(secret not in event for event in events)


async def test_an_online_seller_is_handled_where_its_store_says_it_is(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    _, auth = consumer()
    seller = {"platform": "某电商平台", "platform_region_code": "630103", "store": "昆仑特产旗舰店",
              "store_url": "https://shop.example/kunlun", "displayed_address": "格尔木市八一路5号",
              "displayed_region_code": area.second}

    displayed = await file_case(client, auth, area.first, respondent={"name": "昆仑特产", "online": seller})
    no_address = {key: value for key, value in seller.items() if not key.startswith("displayed")}
    platform = await file_case(client, auth, area.first, respondent={"name": "昆仑特产", "online": no_address})

    assert displayed["region_code"] == area.second  # Art. 13: the displayed address decides
    assert displayed["respondent"]["online"] == seller
    assert platform["region_code"] == "630103"  # no address shown: the platform operator's bureau
    assert platform["case_no"].startswith("TS-630103-")


def test_the_code_lists_cover_the_seed_sectors() -> None:
    seed = ("car_repair", "catering_entertainment", "hotels", "home_renovation", "toys", "school_supplies",
            "gas_appliances", "e_bikes", "food", "online_shopping")
    assert all(catalog.is_sector(code) for code in seed)
    assert catalog.is_category("food.local_specialty")
    assert all(code.split(".")[0] for code in catalog.CATEGORIES)


async def test_sector_and_category_come_back_as_filed(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    _, auth = consumer()
    body: dict[str, Any] = {"sector": "gas_appliances", "category": "gas_appliances.water_heater",
                            "channel": "transfer_12345"}

    filed = await file_case(client, auth, area.first, **body)

    assert {key: filed[key] for key in body} == body


async def test_a_report_filed_at_the_reports_endpoint_is_a_report(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    _, auth = consumer()
    body = complaint_body(respondent=unregistered(area.first))
    del body["kind"], body["complainant"]

    response = await client.post("/v1/consumer/reports", json=body, headers=auth)
    wrong_kind = await client.post("/v1/consumer/reports", json={**body, "kind": "complaint"}, headers=auth)

    assert response.status_code == 201, response.text
    assert (response.json()["kind"], response.json()["status"]) == ("report", "received")
    assert wrong_kind.status_code == 422


async def test_the_answer_to_a_filing_reads_exactly_like_the_case_read_back(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    """The answer is built from what the filing sealed a moment before, without opening it again; every sealed
    field (complainant with ID number, agent and joint complainants, facts, the timeline) must still come back as
    the stored case gives it."""
    _, auth = consumer()
    complainant = {"name": "王芳", "phone": "13800138000", "address": "青海省格尔木市昆仑中路12号",
                   "id_number": "632801199001011239"}
    filed = await file_case(client, auth, area.first, kind="both", complainant=complainant, agent=AGENT,
                            joint=JOINT)

    read_back = await client.get(f"/v1/consumer/complaints/{filed['id']}", headers=auth)

    assert read_back.status_code == 200, read_back.text
    assert read_back.json() == filed
    assert filed["facts"] == complaint_body()["facts"]
