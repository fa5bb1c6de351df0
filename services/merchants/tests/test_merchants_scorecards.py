"""Scorecards from case events (in any order), per period and region, thresholds, warnings and proposals."""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from merchants_testkit import ApproveMerchant
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.consumers import case_events
from merchants.scorecards import service as scorecard_service
from merchants.scorecards.service import SHANGHAI
from merchants.settings import MerchantsSettings
from servicekit.contracts.complaints_v1 import (
    ComplainantForMerchant,
    ComplaintClosed,
    ComplaintRated,
    ComplaintRouted,
    DeadlineBreached,
    RouteTarget,
)
from servicekit.contracts.mediation_v1 import CaseReviewed, CaseSettled, FulfilmentConfirmed
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import queueing_writes
from servicekit.testing.plugin import Tokens

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Case:
    """One complaint against the enterprise, producing the events the other services would."""

    def __init__(self, merchant_id: uuid.UUID) -> None:
        self.merchant_id = merchant_id
        self.complaint_id = uuid.uuid4()
        self.case_id = uuid.uuid4()

    def routed(self, at: datetime, target: RouteTarget = RouteTarget.MERCHANT) -> EventEnvelope:
        return ComplaintRouted(
            complaint_id=self.complaint_id, case_no="TS-1", target=target, merchant_id=self.merchant_id,
            region_code="632801", consumer_id="c", complainant=ComplainantForMerchant(name="王", phone_masked="1"),
            request_type="refund", request_amount_fen=100, facts="x", due_date=None, routed_at=at,
        ).envelope(source="complaints")

    def breached(self, at: datetime) -> EventEnvelope:
        return DeadlineBreached(complaint_id=self.complaint_id, region_code="632801", merchant_id=self.merchant_id,
                                kind="merchant_negotiation", due_date=at.date(), breached_at=at
                                ).envelope(source="complaints")

    def settled(self, at: datetime) -> EventEnvelope:
        return CaseSettled(case_id=self.case_id, complaint_id=self.complaint_id, merchant_id=self.merchant_id,
                           region_code="632801", at=at, stage="negotiation", agreement_id=uuid.uuid4(),
                           agreement_hash="h", amount_fen=100, fulfil_by=None).envelope(source="mediation")

    def closed(self, at: datetime, status: str) -> EventEnvelope:
        return ComplaintClosed(complaint_id=self.complaint_id, case_no="TS-1", region_code="632801",
                               merchant_id=self.merchant_id, status=status, recovered_fen=0, closed_at=at
                               ).envelope(source="complaints")

    def rated(self, rating: int) -> EventEnvelope:
        return ComplaintRated(complaint_id=self.complaint_id, merchant_id=self.merchant_id, rating=rating,
                              rated_at=NOW).envelope(source="complaints")

    def fulfilment(self, confirmed: bool) -> EventEnvelope:
        return FulfilmentConfirmed(case_id=self.case_id, complaint_id=self.complaint_id,
                                   merchant_id=self.merchant_id, region_code="632801", at=NOW,
                                   agreement_id=uuid.uuid4(), confirmed=confirmed).envelope(source="mediation")

    def reviewed(self, outcome: str) -> EventEnvelope:
        return CaseReviewed(case_id=self.case_id, complaint_id=self.complaint_id, merchant_id=self.merchant_id,
                            region_code="632801", at=NOW, review_id=uuid.uuid4(), outcome=outcome,
                            finding=outcome != "confirmed", signals=[], sampled=True).envelope(source="mediation")


async def consume(sessionmaker: async_sessionmaker[AsyncSession], *envelopes: EventEnvelope) -> None:
    """Each event through the consumer group's own handler, in its own transaction, as the inbox consumer runs it."""
    groups = case_events.handlers(retry_window=DAY)
    for envelope in envelopes:
        group = case_events.ON_COMPLAINTS if envelope.source == "complaints" else case_events.ON_MEDIATION
        async with sessionmaker() as session, session.begin(), queueing_writes(session):
            await groups[group][envelope.type](session, envelope)


async def four_cases(sessionmaker: async_sessionmaker[AsyncSession], merchant_id: uuid.UUID) -> None:
    """Settled in 2 and 4 days (one fulfilment confirmed), one overdue and terminated, one open; ratings 5, 3, 1."""
    first, second, third, fourth = (Case(merchant_id) for _ in range(4))
    await consume(
        sessionmaker,
        first.routed(NOW - 10 * DAY), first.settled(NOW - 8 * DAY), first.closed(NOW - 8 * DAY, "closed_settled"),
        first.fulfilment(True), first.rated(5),
        # The mediation service's events may overtake the complaint's routing.
        second.settled(NOW - 5 * DAY), second.fulfilment(False), second.routed(NOW - 9 * DAY), second.rated(3),
        third.routed(NOW - 6 * DAY), third.breached(NOW - 3 * DAY), third.closed(NOW - 2 * DAY, "closed_terminated"),
        third.rated(1),
        fourth.routed(NOW - 2 * DAY),
        # Neither counts: routed to the regulator, or naming a merchant this registry does not know.
        Case(merchant_id).routed(NOW - DAY, target=RouteTarget.REGULATOR), Case(uuid.uuid4()).routed(NOW - DAY),
    )


def window() -> dict[str, str]:
    today = NOW.astimezone(SHANGHAI).date()
    return {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}


async def test_the_scorecard_counts_each_case_once_whatever_the_event_order(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    issued = await approved_merchant()
    await four_cases(sessionmaker, issued.merchant_id)
    response = await client.get("/v1/merchant/scorecard", params=window(),
                                headers=bearer(tokens.merchant(issued.merchant_id)))
    assert response.status_code == 200, response.text
    card = response.json()
    assert {name: card[name] for name in (
        "cases_received", "answered_within_deadline", "answered_within_deadline_rate", "closed", "settled",
        "settlement_rate", "median_days_to_settle", "fulfilment_confirmed", "fulfilment_confirmed_rate", "ratings",
        "average_rating")} == {
        "cases_received": 4, "answered_within_deadline": 3, "answered_within_deadline_rate": 0.75, "closed": 3,
        "settled": 2, "settlement_rate": 0.6667, "median_days_to_settle": 3.0, "fulfilment_confirmed": 1,
        "fulfilment_confirmed_rate": 0.5, "ratings": 3, "average_rating": 3.0}
    assert card["open_flags"] == []

    # A period before the cases holds none of them.
    early = {"from": "2025-01-01", "to": "2025-01-31"}
    empty = (await client.get("/v1/merchant/scorecard", params=early,
                              headers=bearer(tokens.merchant(issued.merchant_id)))).json()
    assert (empty["cases_received"], empty["settlement_rate"], empty["average_rating"]) == (0, None, None)
    backwards = await client.get("/v1/merchant/scorecard", params={"from": "2026-02-01", "to": "2026-01-01"},
                                 headers=bearer(tokens.merchant(issued.merchant_id)))
    assert backwards.status_code == 422


async def test_the_scorecard_counts_reviewed_cases_and_review_findings(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    issued = await approved_merchant()
    first, second, third = (Case(issued.merchant_id) for _ in range(3))
    await consume(sessionmaker, first.routed(NOW - 5 * DAY), second.routed(NOW - 4 * DAY), third.routed(NOW - DAY),
                  # Reviewed twice (a later signal reopened it): one case, two findings.
                  first.reviewed("referred_for_enforcement"), first.reviewed("consumer_called_back"),
                  second.reviewed("confirmed"))
    card = (await client.get("/v1/merchant/scorecard", params=window(),
                             headers=bearer(tokens.merchant(issued.merchant_id)))).json()
    assert (card["cases_received"], card["cases_reviewed"], card["review_findings"]) == (3, 2, 2)


async def test_regulators_see_their_region_and_the_public_sees_approved_enterprises(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    issued = await approved_merchant()
    await four_cases(sessionmaker, issued.merchant_id)

    async def all_pages(url: str, headers: dict[str, str], params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = (await client.get(url, params={**params, **({"cursor": cursor} if cursor else {})},
                                     headers=headers)).json()
            items += page["items"]
            if not (cursor := page["next_cursor"]):
                return items

    golmud = await all_pages("/v1/regulator/scorecards", bearer(tokens.regulator("632801")), window())
    mine = [card for card in golmud if card["merchant_id"] == str(issued.merchant_id)]
    assert [card["cases_received"] for card in mine] == [4]
    xining = await all_pages("/v1/regulator/scorecards", bearer(tokens.regulator("630100")), window())
    assert str(issued.merchant_id) not in {card["merchant_id"] for card in xining}

    public = await all_pages("/v1/public/odr-enterprises", {}, {"region": "632800", "limit": 100})
    listed = {item["merchant_id"]: item for item in public}
    assert listed[str(issued.merchant_id)]["scorecard"]["settled"] == 2
    assert "open_flags" in listed[str(issued.merchant_id)]["scorecard"]
    await client.post(f"/v1/regulator/merchants/{issued.merchant_id}/suspend", json={"reason": "x"},
                      headers=bearer(tokens.regulator()))
    public = await all_pages("/v1/public/odr-enterprises", {}, {"region": "632801", "limit": 100})
    assert str(issued.merchant_id) not in {item["merchant_id"] for item in public}
    unknown = await client.get("/v1/public/odr-enterprises", params={"region": "999999"})
    assert unknown.status_code == 422


async def test_thresholds_warn_then_propose_a_suspension_the_regulator_confirms(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant,
    sessionmaker: async_sessionmaker[AsyncSession], settings: MerchantsSettings,
) -> None:
    issued = await approved_merchant()
    await four_cases(sessionmaker, issued.merchant_id)
    strict = settings.model_copy(update={"scorecard_min_cases": 3, "scorecard_min_settlement_rate": 0.7})
    lenient = settings.model_copy(update={"scorecard_min_cases": 3, "scorecard_min_on_time_rate": 0.5})

    async def evaluate(with_settings: MerchantsSettings, at: datetime) -> list[tuple[str, list[str]]]:
        async with sessionmaker() as session:
            raised = await scorecard_service.evaluate(session, settings=with_settings, now=at)
        return [(flag.level, flag.reasons) for flag in raised if flag.merchant_id == issued.merchant_id]

    assert await evaluate(strict, NOW) == [("warning", ["answered within the deadline 75% < 80%",
                                                        "settlement rate 67% < 70%"])]
    assert await evaluate(strict, NOW + DAY) == []  # one open warning at a time
    assert await evaluate(lenient, NOW + DAY) == []  # back within the thresholds: the warning closes
    async with sessionmaker() as session:
        resolutions = (await session.scalars(text(
            "SELECT resolution FROM scorecard_flag WHERE merchant_id = :id"), {"id": issued.merchant_id})).all()
    assert resolutions == ["recovered"]

    assert [level for level, _ in await evaluate(strict, NOW + DAY)] == ["warning"]
    assert await evaluate(strict, NOW + 10 * DAY) == []  # not yet long enough
    assert [level for level, _ in await evaluate(strict, NOW + 16 * DAY)] == ["suspension_proposed"]
    card = (await client.get("/v1/merchant/scorecard", params=window(),
                             headers=bearer(tokens.merchant(issued.merchant_id)))).json()
    assert sorted(flag["level"] for flag in card["open_flags"]) == ["suspension_proposed", "warning"]

    regulator = bearer(tokens.regulator("632801"))
    proposals = (await client.get("/v1/regulator/suspension-proposals", headers=regulator)).json()
    proposal = next(item for item in proposals if item["merchant_id"] == str(issued.merchant_id))
    assert (proposal["merchant_name"], proposal["region_code"]) == ("格尔木测试商贸有限公司", "632801")
    elsewhere = await client.post(f"/v1/regulator/suspension-proposals/{proposal['id']}/confirm",
                                  json={"reason": "x"}, headers=bearer(tokens.regulator("630100")))
    assert elsewhere.status_code == 404
    confirmed = await client.post(f"/v1/regulator/suspension-proposals/{proposal['id']}/confirm",
                                  json={"reason": "考评不达标"}, headers=regulator)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["resolution"] == "confirmed"
    again = await client.post(f"/v1/regulator/suspension-proposals/{proposal['id']}/dismiss",
                              json={"reason": "x"}, headers=regulator)
    assert again.status_code == 409
    async with sessionmaker() as session:
        status = await session.scalar(text("SELECT status FROM enrollment WHERE merchant_id = :id"),
                                      {"id": issued.merchant_id})
        events = (await session.scalars(text(
            "SELECT event_type FROM outbox WHERE aggregate_id = :id ORDER BY id"), {"id": str(issued.merchant_id)}
        )).all()
    assert status == "suspended"
    assert events[-1] == "merchants.enrollment.suspended.v1"


@pytest.mark.parametrize("day", [date(2026, 1, 1), date(2026, 6, 30)])
def test_periods_are_local_days(day: date) -> None:
    start, end = scorecard_service.Period(day, day).bounds()
    assert start.astimezone(SHANGHAI).date() == day
    assert (end - start) == DAY
    assert start.hour == 16  # midnight in Shanghai is 16:00 UTC the day before


async def test_reported_orders_give_complaints_per_1000_orders(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    issued = await approved_merchant()
    await four_cases(sessionmaker, issued.merchant_id)
    headers = bearer(tokens.merchant(issued.merchant_id))
    period = window()
    start, end = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
    months = sorted({start.replace(day=1), end.replace(day=1)})
    for month in months:
        reported = await client.put(f"/v1/merchant/scorecard/orders/{month:%Y-%m}", json={"orders": 6200},
                                    headers=headers)
        assert reported.status_code == 200, reported.text
    expected_orders = 0.0
    for month in months:
        days = calendar.monthrange(month.year, month.month)[1]
        last = month.replace(day=days)
        expected_orders += 6200 * ((min(last, end) - max(month, start)).days + 1) / days
    card = (await client.get("/v1/merchant/scorecard", params=period, headers=headers)).json()
    assert card["orders"] == round(expected_orders)
    assert card["complaints_per_1000_orders"] == round(4 * 1000 / round(expected_orders), 3)

    for bad in ("2026-13", "2026-1", "26-11", "0000-01"):  # year 0 is no date: refused, not a 500
        assert (await client.put(f"/v1/merchant/scorecard/orders/{bad}", json={"orders": 1},
                                 headers=headers)).status_code == 422
    negative = await client.put(f"/v1/merchant/scorecard/orders/{months[0]:%Y-%m}", json={"orders": -1},
                                headers=headers)
    assert negative.status_code == 422
