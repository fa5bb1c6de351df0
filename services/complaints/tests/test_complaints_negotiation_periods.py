"""The ODR negotiation period per region (docs/architecture.md §4): the most specific configured region wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from complaints_support import NEGOTIATION_WORKING_DAYS, Consumer, Seed, bearer, complaint_body, file_case
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from complaints.deadline.service import NegotiationPeriods
from complaints.settings import ComplaintsSettings
from servicekit.calendar import add_working_days, local_date
from servicekit.testing.plugin import Tokens

CONSUMER = "/v1/consumer/complaints"
REGULATOR = "/v1/regulator/complaints"


def negotiation_due(case: dict[str, Any]) -> str:
    [clock] = [d for d in case["deadlines"] if d["kind"] == "merchant_negotiation"]
    due: str = clock["due_date"]
    return due


async def routed_due_date(engine: AsyncEngine, case_id: str) -> str:
    async with engine.connect() as connection:
        payload = (await connection.execute(text(
            "SELECT payload FROM outbox WHERE aggregate_id = :id AND event_type = 'complaints.complaint.routed.v1' "
            "AND payload->>'target' = 'merchant'"), {"id": case_id})).scalar_one()
    due: str = payload["due_date"]
    return due


def test_the_most_specific_region_wins() -> None:
    periods = NegotiationPeriods({"": 10, "630000": 8, "632800": 6, "632801": 5})

    assert periods.for_region("632801") == 5
    assert periods.for_region("632802") == 6
    assert periods.for_region("632800") == 6
    assert periods.for_region("630202") == 8
    assert periods.for_region("110000") == 10


def test_settings_keep_the_national_default_and_refuse_unknown_regions_or_empty_periods() -> None:
    assert ComplaintsSettings().merchant_negotiation_working_days == {"": 10}
    assert ComplaintsSettings(merchant_negotiation_working_days={"632800": 7}).merchant_negotiation_working_days == {
        "": 10, "632800": 7}
    assert ComplaintsSettings(merchant_negotiation_working_days={"": 8}).merchant_negotiation_working_days == {"": 8}
    with pytest.raises(ValidationError, match="unknown region codes"):
        ComplaintsSettings(merchant_negotiation_working_days={"639999": 7})
    with pytest.raises(ValidationError, match="at least one working day"):
        ComplaintsSettings(merchant_negotiation_working_days={"632800": 0})


async def test_a_green_channel_filing_negotiates_for_its_regions_period(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, engine: AsyncEngine,
) -> None:
    beijing, tianjin = await enrolled_merchant("110000"), await enrolled_merchant("120000")
    _, auth = consumer()

    filed = []
    for merchant_id in (beijing, tianjin):
        response = await client.post(CONSUMER, headers=auth,
                                      json=complaint_body(respondent={"merchant_id": str(merchant_id)}))
        assert response.status_code == 201, response.text
        filed.append(response.json())

    for case, region in zip(filed, ("110000", "120000"), strict=True):
        assert case["status"] == "with_merchant"
        today = local_date(datetime.fromisoformat(case["filed_at"]))
        expected = add_working_days(today, NEGOTIATION_WORKING_DAYS[region]).isoformat()
        assert negotiation_due(case) == expected
        assert await routed_due_date(engine, case["id"]) == expected
    assert negotiation_due(filed[0]) != negotiation_due(filed[1])


async def test_routing_to_a_merchant_starts_the_regions_period(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, tokens: Tokens, engine: AsyncEngine,
) -> None:
    _, auth = consumer()
    due_dates = {}
    for region in ("110000", "120000"):
        merchant_id = await enrolled_merchant(region)
        filed = await file_case(client, auth, region)
        assert filed["status"] == "pending_acceptance"

        response = await client.post(f"{REGULATOR}/{filed['id']}/route-to-merchant",
                                     json={"merchant_id": str(merchant_id)},
                                     headers=bearer(tokens.regulator(region=region)))

        assert response.status_code == 200, response.text
        routed = response.json()
        today = local_date(datetime.fromisoformat(routed["updated_at"]))
        due_dates[region] = negotiation_due(routed)
        assert due_dates[region] == add_working_days(today, NEGOTIATION_WORKING_DAYS[region]).isoformat()
        assert await routed_due_date(engine, filed["id"]) == due_dates[region]
    assert due_dates["110000"] != due_dates["120000"]
