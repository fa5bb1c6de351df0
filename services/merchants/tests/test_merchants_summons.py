"""Summons (约谈): recorded by a regulator of the enterprise's region, listed for that region and above, shown on the
enterprise's scorecard; bad input is 422, another region's enterprise 404."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from merchants_testkit import ApproveMerchant
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.settings import MerchantsSettings
from merchants.summons.models import attendees_context
from servicekit.auth import Audience, Role
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

TODAY = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def summons_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "held_on": (TODAY - timedelta(days=1)).isoformat(),
        "attendees": [{"name": "张伟", "organisation": "格尔木市市场监督管理局", "title": "消保科科长"},
                      {"name": "李明", "organisation": "格尔木察尔汗盐湖商贸有限公司", "title": "客服经理"}],
        "findings": "近三个月投诉量上升，十个工作日内答复率不足百分之六十。",
        "undertakings": ["一个月内增配两名投诉处理人员", "每周向监管部门报送投诉处理情况"],
        "case_nos": ["TS-632801-20261120-000123"],
    }
    body.update(changes)
    return body


async def test_a_summons_is_recorded_listed_by_region_and_shown_on_the_scorecard(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant,
) -> None:
    merchant_id = (await approved_merchant()).merchant_id  # in Golmud, 632801
    golmud = bearer(tokens.regulator("632801", sub="reg-golmud"))
    recorded = await client.post(f"/v1/regulator/merchants/{merchant_id}/summons", json=summons_body(),
                                 headers=golmud)
    assert recorded.status_code == 201, recorded.text
    summons = recorded.json()
    assert (summons["merchant_id"], summons["region_code"], summons["recorded_by"]) == (
        str(merchant_id), "632801", "reg-golmud")
    assert summons["undertakings"] == summons_body()["undertakings"]
    assert recorded.headers["location"] == f"/v1/regulator/summons/{summons['id']}"

    for region, token in (("632801", golmud), ("632800", bearer(tokens.regulator("632800"))),
                          ("630000", bearer(tokens.regulator("630000")))):
        listed = await client.get("/v1/regulator/summons", params={"region": region, "merchant_id": str(merchant_id)},
                                  headers=token)
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["items"]] == [summons["id"]], region
    elsewhere = bearer(tokens.regulator("632802"))
    own = await client.get("/v1/regulator/summons", params={"merchant_id": str(merchant_id)}, headers=elsewhere)
    assert own.json()["items"] == []
    assert (await client.get(f"/v1/regulator/summons/{summons['id']}", headers=elsewhere)).status_code == 404
    assert (await client.get("/v1/regulator/summons", params={"region": "632801"}, headers=elsewhere)
            ).status_code == 404
    assert (await client.get(f"/v1/regulator/summons/{summons['id']}", headers=golmud)).json() == summons

    card = await client.get("/v1/merchant/scorecard", headers=bearer(tokens.merchant(merchant_id)))
    assert card.status_code == 200, card.text
    assert [(item["id"], item["held_on"]) for item in card.json()["summons"]] == [
        (summons["id"], summons["held_on"])]
    region_cards = await client.get("/v1/regulator/scorecards", params={"limit": 100}, headers=golmud)
    cards = {item["merchant_id"]: item for item in region_cards.json()["items"]}
    assert cards[str(merchant_id)]["summons"][0]["findings"] == summons["findings"]


async def test_summons_refuse_bad_input_and_foreign_enterprises(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant,
) -> None:
    merchant_id = (await approved_merchant()).merchant_id
    path = f"/v1/regulator/merchants/{merchant_id}/summons"
    mediator = tokens.issuer.issue(sub="med-1", aud=Audience.REGULATOR, roles=[Role.MEDIATOR], region="632801")
    golmud = bearer(tokens.regulator("632801"))
    for body in (summons_body(held_on=(TODAY + timedelta(days=2)).isoformat()), summons_body(attendees=[]),
                 summons_body(undertakings=[]), summons_body(findings=" "), summons_body(case_nos=["nope"]),
                 summons_body(extra=1), {}):
        refused = await client.post(path, json=body, headers=golmud)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.post(path, json=summons_body(), headers=bearer(tokens.regulator("632802")))
            ).status_code == 404
    assert (await client.post("/v1/regulator/merchants/00000000-0000-0000-0000-000000000000/summons",
                              json=summons_body(), headers=golmud)).status_code == 404
    assert (await client.post(path, json=summons_body(), headers=bearer(mediator))
            ).status_code == 403
    assert (await client.post(path, json=summons_body(), headers=bearer(tokens.merchant(merchant_id)))
            ).status_code == 403
    assert (await client.get("/v1/regulator/summons", params={"region": "999999"}, headers=golmud)
            ).status_code == 422
    assert (await client.get("/v1/regulator/summons", params={"cursor": "%%"}, headers=golmud)).status_code == 422


async def test_the_attendees_findings_and_undertakings_are_kept_encrypted_and_read_back(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant, settings: MerchantsSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id = (await approved_merchant()).merchant_id
    golmud = bearer(tokens.regulator("632801"))
    attendees = [{"name": "司马" + secrets.token_hex(3), "organisation": "格尔木察尔汗盐湖商贸有限公司", "title": None}]
    findings, undertaking = f"约谈发现{secrets.token_hex(4)}", f"承诺{secrets.token_hex(4)}"
    recorded = await client.post(f"/v1/regulator/merchants/{merchant_id}/summons", headers=golmud,
                                 json=summons_body(attendees=attendees, findings=findings, undertakings=[undertaking]))
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["attendees"] == attendees
    seen = (await client.get(f"/v1/regulator/summons/{recorded.json()['id']}", headers=golmud)).json()
    assert (seen["attendees"], seen["findings"], seen["undertakings"]) == (attendees, findings, [undertaking])

    async with sessionmaker() as session:
        row = (await session.execute(text("SELECT s::text AS whole, attendees_enc FROM summons s WHERE id = :id"),
                                     {"id": recorded.json()["id"]})).one()
    for written in (attendees[0]["name"], findings, undertaking):
        assert written not in row.whole
        assert written.encode().hex() not in row.whole
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    opened = cipher.decrypt(row.attendees_enc, context=attendees_context(uuid.UUID(recorded.json()["id"])))
    assert json.loads(opened) == attendees
