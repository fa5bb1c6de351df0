"""Summons (约谈) through the gateway: the Golmud regulator records a meeting with a demo enterprise, lists it, and the
enterprise finds it on its own scorecard; the regulator's scorecards show it too."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

pytestmark = pytest.mark.e2e


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_recorded_summons_appears_on_the_enterprises_scorecard(
    gateway: httpx.AsyncClient, regulator_token: str, merchant_b_token: str, demo: dict[str, Any],
) -> None:
    merchant_id = demo["merchants"][1]["merchant_id"]
    held_on = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=2)).date().isoformat()
    body = {"held_on": held_on,
            "attendees": [{"name": "张伟", "organisation": "格尔木市市场监督管理局", "title": "消保科科长"},
                          {"name": "赵敏", "organisation": demo["merchants"][1]["name"]}],
            "findings": "投诉答复超期较多。", "undertakings": ["十个工作日内答复全部投诉"]}
    recorded = await gateway.post(f"/v1/regulator/merchants/{merchant_id}/summons", json=body,
                                  headers=auth(regulator_token))
    assert recorded.status_code == 201, recorded.text
    summons = recorded.json()

    listed = await gateway.get("/v1/regulator/summons", params={"merchant_id": merchant_id},
                               headers=auth(regulator_token))
    assert listed.status_code == 200, listed.text
    assert summons["id"] in [item["id"] for item in listed.json()["items"]]

    card = await gateway.get("/v1/merchant/scorecard", headers=auth(merchant_b_token))
    assert card.status_code == 200, card.text
    assert {"id": summons["id"], "held_on": held_on, "findings": body["findings"],
            "undertakings": body["undertakings"]} in card.json()["summons"]
    cards = await gateway.get("/v1/regulator/scorecards", params={"limit": 100}, headers=auth(regulator_token))
    assert summons["id"] in [item["id"] for card in cards.json()["items"] if card["merchant_id"] == merchant_id
                             for item in card["summons"]]

    # Only regulators record them, and bad input is refused with a problem.
    refused = await gateway.post(f"/v1/regulator/merchants/{merchant_id}/summons", json=body,
                                 headers=auth(merchant_b_token))
    assert refused.status_code in (401, 403, 404), refused.text
    invalid = await gateway.post(f"/v1/regulator/merchants/{merchant_id}/summons", json={**body, "attendees": []},
                                 headers=auth(regulator_token))
    assert invalid.status_code == 422, invalid.text
    assert invalid.headers["content-type"].startswith("application/problem+json")
