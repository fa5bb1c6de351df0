"""Auditing outcomes: each signal raised by its flow and not by its near miss, thresholds per region, outcome
records, the review queue on the audit chain and the period figures recomputed from the rows."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from mediation_testkit import ApplyEvent, bearer, outbox_events, routed_event, settle_case
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.outcomes.jobs import raise_fulfilment_overdue, raise_outliers
from servicekit.auth import Audience, Role
from servicekit.calendar import end_of_day, local_date
from servicekit.contracts.complaints_v1 import (
    ComplainantForMerchant,
    ComplaintAccepted,
    ComplaintClosed,
    ComplaintFiled,
    ComplaintRated,
    ComplaintRouted,
    ComplaintWithdrawn,
    RouteTarget,
)
from servicekit.db import new_id, utcnow
from servicekit.testing.plugin import Tokens

# Regions no other test writes to (Haibei, Huangnan, Hainan, Guoluo, Yushu prefectures), one per concern.
LOW = "632221"
THRESHOLD_PARENT, THRESHOLD_CHILD, THRESHOLD_SIBLING = "632200", "632222", "632223"
REFILE = "632301"
WITHDRAWAL = "632322"
FULFILMENT = "632323"
OUTLIERS_PARENT, OUTLIERS = "632500", "632521"
REVIEWS = "632621"
REQUESTED = 29_900


def envelope_of(contract: Any) -> Any:
    return contract.envelope(source="complaints")


async def file_complaint(apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession], *,
                         region: str, merchant_id: uuid.UUID, consumer_id: str, sector: str = "food",
                         filed_at: datetime | None = None, routed: bool = True,
                         one_fetch: bool = False) -> tuple[str, uuid.UUID]:
    """A complaint filed (sector, filing time) and routed to the enterprise, each event in a transaction of its own
    or both in one (as in one fetch of the consumer): (case id, complaint id)."""
    complaint_id = uuid.uuid4()
    case_no = f"TS-{region}-20261204-{complaint_id.int % 1_000_000:06d}"
    filed_at = filed_at or utcnow()
    filed = envelope_of(ComplaintFiled(
        complaint_id=complaint_id, case_no=case_no, kind="complaint", region_code=region, merchant_id=merchant_id,
        respondent_name="某商店", sector=sector, category=None, channel="web", request_type="refund",
        request_amount_fen=REQUESTED, green_channel=True, filed_at=filed_at))
    if routed:
        follow_up = envelope_of(ComplaintRouted(
            complaint_id=complaint_id, case_no=case_no, target=RouteTarget.MERCHANT, merchant_id=merchant_id,
            region_code=region, consumer_id=consumer_id,
            complainant=ComplainantForMerchant(name="王芳", phone_masked="138****8000"), request_type="refund",
            request_amount_fen=REQUESTED, facts="商品与宣传不符", due_date=None, routed_at=utcnow()))
    else:
        follow_up = envelope_of(ComplaintAccepted(
            complaint_id=complaint_id, case_no=case_no, region_code=region, merchant_id=merchant_id,
            respondent_name="某商店", consumer_id=consumer_id,
            complainant=ComplainantForMerchant(name="王芳", phone_masked="138****8000"), request_type="refund",
            request_amount_fen=REQUESTED, facts="商品与宣传不符", accepted_by="reg", accepted_at=utcnow()))
    if one_fetch:
        await apply_event(filed, follow_up)
    else:
        await apply_event(filed)
        await apply_event(follow_up)
    async with sessionmaker() as session:
        case_id = await session.scalar(text("SELECT id FROM mediation_case WHERE complaint_id = :id"),
                                       {"id": complaint_id})
    return str(case_id), complaint_id


async def settled(client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
                  tokens: Tokens, *, region: str, offer: dict[str, Any], merchant_id: uuid.UUID | None = None,
                  consumer_id: str | None = None, sector: str = "food") -> tuple[str, dict[str, Any]]:
    """A case negotiated to agreement on `offer`: (case id, agreement)."""
    merchant_id = merchant_id or uuid.uuid4()
    consumer_id = consumer_id or f"c-{uuid.uuid4().hex[:12]}"
    case_id, _ = await file_complaint(apply_event, sessionmaker, region=region, merchant_id=merchant_id,
                                      consumer_id=consumer_id, sector=sector)
    agreement = await settle_case(client, case_id=case_id, merchant=bearer(tokens.merchant(merchant_id)),
                                  consumer=bearer(tokens.consumer(consumer_id)), offer=offer)
    return case_id, agreement


async def signals_of(client: httpx.AsyncClient, tokens: Tokens, region: str, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/regulator/audit/signals", params={"region": region, **params},
                                headers=bearer(tokens.regulator(region=region)))
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def kinds_of(sessionmaker: async_sessionmaker[AsyncSession], case_id: str) -> list[str]:
    async with sessionmaker() as session:
        return list((await session.execute(text("SELECT kind FROM outcome_signal WHERE case_id = :id ORDER BY kind"),
                                           {"id": uuid.UUID(case_id)})).scalars())


async def test_low_settlement_below_a_tenth_of_the_request_and_not_at_10_1_percent(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    low, _ = await settled(client, apply_event, sessionmaker, tokens, region=LOW,
                           offer={"type": "refund", "amount_fen": 2_989})
    near_miss, _ = await settled(client, apply_event, sessionmaker, tokens, region=LOW,
                                 offer={"type": "refund", "amount_fen": 3_020})
    at_share, _ = await settled(client, apply_event, sessionmaker, tokens, region=LOW,
                                offer={"type": "refund", "amount_fen": 2_990})
    in_kind, _ = await settled(client, apply_event, sessionmaker, tokens, region=LOW, offer={"type": "replacement"})

    items = await signals_of(client, tokens, LOW, signal="low_settlement")
    assert [item["case_id"] for item in items] == [low]
    item = items[0]
    assert set(item) >= {"case_no", "complaint_id", "signal", "detail", "raised_at"}
    assert item["case_no"].startswith("TS-")
    assert item["signal"] == "low_settlement"
    assert (item["detail"]["requested_fen"], item["detail"]["agreed_fen"]) == (REQUESTED, 2_989)
    assert item["detail"]["threshold_share"] == 0.1
    for case_id in (near_miss, at_share, in_kind):
        assert await kinds_of(sessionmaker, case_id) == []
    # A province regulator sees the county's signals; a regulator of another prefecture does not.
    above = await client.get("/v1/regulator/audit/signals", params={"region": "630000", "signal": "low_settlement"},
                             headers=bearer(tokens.regulator(region="630000")))
    assert low in [item["case_id"] for item in above.json()["items"]]
    other = await client.get("/v1/regulator/audit/signals", params={"region": LOW},
                             headers=bearer(tokens.regulator(region="632800")))
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    bad = await client.get("/v1/regulator/audit/signals", params={"region": LOW, "signal": "odd"},
                           headers=bearer(tokens.regulator(region=LOW)))
    assert bad.status_code == 422
    mediator = bearer(tokens.issuer.issue(sub="med-1", aud=Audience.REGULATOR, roles=[Role.MEDIATOR], region=LOW))
    assert (await client.get("/v1/regulator/audit/signals", params={"region": LOW},
                             headers=mediator)).status_code == 403


async def test_thresholds_a_child_region_inherits_and_its_own_setting_overrides(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    prefecture = bearer(tokens.regulator(region=THRESHOLD_PARENT))
    default = (await client.get("/v1/regulator/audit/thresholds", params={"region": THRESHOLD_CHILD},
                                headers=prefecture)).json()
    assert default["effective"]["low_settlement_share"] == 0.1
    assert default["sources"]["low_settlement_share"] == "default"
    assert set(default["rules"]) == {"low_settlement", "fulfilment_overdue", "fulfilment_disputed",
                                     "refiled_after_close", "withdrawn_after_contact", "enterprise_outlier",
                                     "mediator_outlier"}

    parent = await client.put("/v1/regulator/audit/thresholds", params={"region": THRESHOLD_PARENT},
                              json={"low_settlement_share": 0.5, "refile_days": 60}, headers=prefecture)
    assert parent.status_code == 200, parent.text
    county = bearer(tokens.regulator(region=THRESHOLD_CHILD))
    child = await client.put("/v1/regulator/audit/thresholds", params={"region": THRESHOLD_CHILD},
                             json={"low_settlement_share": 0.05}, headers=county)
    assert child.status_code == 200, child.text
    assert child.json()["effective"]["low_settlement_share"] == 0.05
    assert child.json()["effective"]["refile_days"] == 60
    assert child.json()["sources"] == {**child.json()["sources"], "low_settlement_share": THRESHOLD_CHILD,
                                       "refile_days": THRESHOLD_PARENT, "withdrawal_days": "default"}
    sibling = (await client.get("/v1/regulator/audit/thresholds", params={"region": THRESHOLD_SIBLING},
                                headers=prefecture)).json()
    assert (sibling["effective"]["low_settlement_share"], sibling["sources"]["low_settlement_share"]) == (
        0.5, THRESHOLD_PARENT)
    assert sibling["own"]["low_settlement_share"] is None

    # 10 % is low where the parent's 50 % applies, not where the child's own 5 % does.
    in_child, _ = await settled(client, apply_event, sessionmaker, tokens, region=THRESHOLD_CHILD,
                                offer={"type": "refund", "amount_fen": 2_990})
    in_sibling, _ = await settled(client, apply_event, sessionmaker, tokens, region=THRESHOLD_SIBLING,
                                  offer={"type": "refund", "amount_fen": 2_990})
    assert await kinds_of(sessionmaker, in_child) == []
    assert await kinds_of(sessionmaker, in_sibling) == ["low_settlement"]

    upward = await client.put("/v1/regulator/audit/thresholds", params={"region": THRESHOLD_PARENT}, json={},
                              headers=county)
    assert upward.status_code == 403
    for body in ({"low_settlement_share": 1.5}, {"refile_days": 0}, {"unknown": 1}, {"outlier_z": "far"}):
        invalid = await client.put("/v1/regulator/audit/thresholds", params={"region": THRESHOLD_CHILD}, json=body,
                                   headers=county)
        assert invalid.status_code == 422, body
        assert invalid.headers["content-type"] == "application/problem+json"


async def test_the_day_thresholds_are_the_region_s_own_refiling_withdrawal_and_overdue_fulfilment(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    # The same flows in a county with its own longer refiling and withdrawal windows and a shorter overdue period,
    # and in a sibling county on the defaults (30, 7 and 14 days): raised in the first only.
    own, default = "632324", "632724"
    county = bearer(tokens.regulator(region=own))
    assert (await client.put("/v1/regulator/audit/thresholds", params={"region": own}, headers=county, json={
        "refile_days": 45, "withdrawal_days": 10, "fulfilment_overdue_days": 3})).status_code == 200
    fulfil_by = local_date(utcnow()) + timedelta(days=1)
    flagged: dict[str, dict[str, str]] = {}
    for region in (own, default):
        merchant_id, consumer_id = uuid.uuid4(), f"c-{uuid.uuid4().hex[:12]}"
        first, _ = await settled(client, apply_event, sessionmaker, tokens, region=region, merchant_id=merchant_id,
                                 consumer_id=consumer_id, offer={"type": "refund", "amount_fen": REQUESTED,
                                                                 "fulfil_by": fulfil_by.isoformat()})
        async with sessionmaker() as session:
            closed_at: datetime = await session.scalar(text("SELECT closed_at FROM mediation_case WHERE id = :id"),
                                                       {"id": uuid.UUID(first)})
        refiled, complaint_id = await file_complaint(apply_event, sessionmaker, region=region,
                                                     merchant_id=merchant_id, consumer_id=consumer_id,
                                                     filed_at=closed_at + timedelta(days=40))
        posted = await client.post(f"/v1/merchant/cases/{refiled}/messages", json={"text": "请联系我们"},
                                   headers=bearer(tokens.merchant(merchant_id)))
        assert posted.status_code == 201, posted.text
        await apply_event(envelope_of(ComplaintWithdrawn(complaint_id=complaint_id, region_code=region,
                                                         merchant_id=merchant_id,
                                                         withdrawn_at=utcnow() + timedelta(days=9))))
        flagged[region] = {"first": first, "refiled": refiled}
    await raise_fulfilment_overdue(sessionmaker, now=end_of_day(fulfil_by) + timedelta(days=3))
    assert await kinds_of(sessionmaker, flagged[own]["first"]) == ["fulfilment_overdue"]
    assert await kinds_of(sessionmaker, flagged[own]["refiled"]) == ["refiled_after_close", "withdrawn_after_contact"]
    assert await kinds_of(sessionmaker, flagged[default]["first"]) == []
    assert await kinds_of(sessionmaker, flagged[default]["refiled"]) == []
    details = {item["signal"]: item["detail"] for item in await signals_of(client, tokens, own)}
    assert (details["refiled_after_close"]["threshold_days"], details["withdrawn_after_contact"]["threshold_days"],
            details["fulfilment_overdue"]["threshold_days"]) == (45, 10, 3)


async def closed_case(client: httpx.AsyncClient, apply_event: ApplyEvent,
                      sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens, *, merchant_id: uuid.UUID,
                      consumer_id: str) -> tuple[str, datetime]:
    """A case of the consumer against the enterprise, settled in full and so closed: (case id, closed_at)."""
    case_id, _ = await settled(client, apply_event, sessionmaker, tokens, region=REFILE, merchant_id=merchant_id,
                               consumer_id=consumer_id, offer={"type": "refund", "amount_fen": REQUESTED})
    async with sessionmaker() as session:
        closed_at: datetime = await session.scalar(text("SELECT closed_at FROM mediation_case WHERE id = :id"),
                                                   {"id": uuid.UUID(case_id)})
    return case_id, closed_at


async def test_refiled_after_close_within_30_days_on_the_new_case_not_after_31(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    merchant_id, consumer_id = uuid.uuid4(), f"c-{uuid.uuid4().hex[:12]}"
    first, closed_at = await closed_case(client, apply_event, sessionmaker, tokens, merchant_id=merchant_id,
                                         consumer_id=consumer_id)
    # Filed 31 days after the closure (near miss), 29 days after it, and 29 days after it against another business.
    late, _ = await file_complaint(apply_event, sessionmaker, region=REFILE, merchant_id=merchant_id,
                                   consumer_id=consumer_id, filed_at=closed_at + timedelta(days=31))
    soon, _ = await file_complaint(apply_event, sessionmaker, region=REFILE, merchant_id=merchant_id,
                                   consumer_id=consumer_id, filed_at=closed_at + timedelta(days=29))
    elsewhere, _ = await file_complaint(apply_event, sessionmaker, region=REFILE, merchant_id=uuid.uuid4(),
                                        consumer_id=consumer_id, filed_at=closed_at + timedelta(days=29))
    assert await kinds_of(sessionmaker, late) == []
    assert await kinds_of(sessionmaker, elsewhere) == []
    assert await kinds_of(sessionmaker, first) == []
    items = await signals_of(client, tokens, REFILE, signal="refiled_after_close")
    assert [item["case_id"] for item in items] == [soon]
    assert items[0]["detail"]["earlier_case_id"] == first
    assert items[0]["detail"]["days_after_close"] == 29.0


async def test_refiling_is_judged_by_the_filing_time_when_filed_and_routed_or_accepted_come_in_one_fetch(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    """The `filed` event's profile is written after the fetch's handlers; the looks at opening must still see the
    filing time: a case opened now for a complaint filed 31 days after the closure is no refiling."""
    merchant_id, consumer_id = uuid.uuid4(), f"c-{uuid.uuid4().hex[:12]}"
    _, closed_at = await closed_case(client, apply_event, sessionmaker, tokens, merchant_id=merchant_id,
                                     consumer_id=consumer_id)
    cases = {}
    for name, days, routed in (("routed late", 31, True), ("accepted late", 31, False), ("routed soon", 29, True)):
        cases[name], _ = await file_complaint(
            apply_event, sessionmaker, region=REFILE, merchant_id=merchant_id, consumer_id=consumer_id,
            filed_at=closed_at + timedelta(days=days), routed=routed, one_fetch=True)
    assert {name: await kinds_of(sessionmaker, case_id) for name, case_id in cases.items()} == {
        "routed late": [], "accepted late": [], "routed soon": ["refiled_after_close"]}
    async with sessionmaker() as session:
        profiled = await session.scalar(text(
            "SELECT count(*) FROM complaint_profile p JOIN mediation_case c ON c.complaint_id = p.complaint_id "
            "WHERE c.id = ANY(:ids) AND p.sector = 'food' AND p.request_amount_fen = :amount"),
            {"ids": [uuid.UUID(case_id) for case_id in cases.values()], "amount": REQUESTED})
    assert profiled == len(cases), "every filing's profile was written with its fetch"


async def test_a_fetch_that_routes_then_withdraws_a_complaint_ends_the_case_it_opened(
    apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The routing only queues its opening; the withdrawal after it in the same fetch must still find the case."""
    merchant_id = uuid.uuid4()
    routed = routed_event(merchant_id=merchant_id, region_code=WITHDRAWAL)
    complaint_id = uuid.UUID(routed.data["complaint_id"])
    await apply_event(routed, envelope_of(ComplaintWithdrawn(complaint_id=complaint_id, region_code=WITHDRAWAL,
                                                             merchant_id=merchant_id, withdrawn_at=utcnow())))
    async with sessionmaker() as session:
        status = await session.scalar(text("SELECT status FROM mediation_case WHERE complaint_id = :id"),
                                      {"id": complaint_id})
    assert status == "terminated"


async def test_withdrawn_soon_after_the_enterprise_s_first_message_and_not_otherwise(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    cases = {}
    for name in ("contacted", "contacted_long_ago", "never_contacted"):
        merchant_id, consumer_id = uuid.uuid4(), f"c-{uuid.uuid4().hex[:12]}"
        case_id, complaint_id = await file_complaint(apply_event, sessionmaker, region=WITHDRAWAL,
                                                     merchant_id=merchant_id, consumer_id=consumer_id)
        if name != "never_contacted":
            posted = await client.post(f"/v1/merchant/cases/{case_id}/messages", json={"text": "请联系我们"},
                                       headers=bearer(tokens.merchant(merchant_id)))
            assert posted.status_code == 201, posted.text
        later = timedelta(days=8) if name == "contacted_long_ago" else timedelta(hours=2)
        await apply_event(envelope_of(ComplaintWithdrawn(complaint_id=complaint_id, region_code=WITHDRAWAL,
                                                         merchant_id=merchant_id, withdrawn_at=utcnow() + later)))
        cases[name] = case_id
    assert await kinds_of(sessionmaker, cases["contacted"]) == ["withdrawn_after_contact"]
    assert await kinds_of(sessionmaker, cases["contacted_long_ago"]) == []
    assert await kinds_of(sessionmaker, cases["never_contacted"]) == []
    item = (await signals_of(client, tokens, WITHDRAWAL, signal="withdrawn_after_contact"))[0]
    assert item["detail"]["threshold_days"] == 7


async def test_fulfilment_disputed_by_the_dispute_and_overdue_by_the_job_after_14_days(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    fulfil_by = local_date(utcnow()) + timedelta(days=3)
    offer = {"type": "refund", "amount_fen": REQUESTED, "fulfil_by": fulfil_by.isoformat()}
    outcomes = {}
    for name in ("disputed", "confirmed", "silent"):
        merchant_id, consumer_id = uuid.uuid4(), f"c-{uuid.uuid4().hex[:12]}"
        case_id, _ = await settled(client, apply_event, sessionmaker, tokens, region=FULFILMENT,
                                   merchant_id=merchant_id, consumer_id=consumer_id, offer=offer)
        if name != "silent":
            proof = await client.post(f"/v1/merchant/cases/{case_id}/fulfilment",
                                      json={"kind": "refund_txn", "reference": "WX-1"},
                                      headers=bearer(tokens.merchant(merchant_id)))
            answer = "dispute" if name == "disputed" else "confirm"
            answered = await client.post(f"/v1/consumer/cases/{case_id}/fulfilment/{proof.json()['id']}/{answer}",
                                         json={}, headers=bearer(tokens.consumer(consumer_id)))
            assert answered.status_code == 200, answered.text
        outcomes[name] = case_id
    assert await kinds_of(sessionmaker, outcomes["disputed"]) == ["fulfilment_disputed"]
    assert await kinds_of(sessionmaker, outcomes["confirmed"]) == []

    due = end_of_day(fulfil_by) + timedelta(days=14)
    await raise_fulfilment_overdue(sessionmaker, now=due - timedelta(seconds=1))
    assert await kinds_of(sessionmaker, outcomes["silent"]) == []
    await raise_fulfilment_overdue(sessionmaker, now=due)
    await raise_fulfilment_overdue(sessionmaker, now=due + timedelta(days=1))
    assert await kinds_of(sessionmaker, outcomes["silent"]) == ["fulfilment_overdue"]
    assert await kinds_of(sessionmaker, outcomes["disputed"]) == ["fulfilment_disputed", "fulfilment_overdue"]
    assert await kinds_of(sessionmaker, outcomes["confirmed"]) == []


async def mediated(client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
                   tokens: Tokens, *, mediator: str, ground: int, region: str = OUTLIERS) -> str:
    """A complaint accepted for mediation, mediated by `mediator` and terminated on `ground`."""
    case_id, _ = await file_complaint(apply_event, sessionmaker, region=region, merchant_id=uuid.uuid4(),
                                      consumer_id=f"c-{uuid.uuid4().hex[:12]}", routed=False,
                                      sector="appliances")
    staff = bearer(tokens.regulator(region=OUTLIERS_PARENT))
    assigned = await client.post(f"/v1/regulator/cases/{case_id}/assign", headers=staff, json={
        "mediator_kind": "regulator_staff", "mediator_id": mediator, "mediator_region": region})
    assert assigned.status_code == 200, assigned.text
    terminated = await client.post(f"/v1/regulator/cases/{case_id}/terminate", json={"ground": ground}, headers=staff)
    assert terminated.status_code == 200, terminated.text
    return case_id


async def test_enterprise_and_mediator_outliers_by_z_score_with_a_minimum_count(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    staff = bearer(tokens.regulator(region=OUTLIERS_PARENT))
    assert (await client.put("/v1/regulator/audit/thresholds", params={"region": OUTLIERS_PARENT},
                             json={"outlier_min_cases": 3}, headers=staff)).status_code == 200
    outlier, near, plain = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # outlier: 3 of 3 settled below 10 %; near: 1 of 3 (z 1.75 against its peers' 0 %); plain: 0 of 4.
    amounts = {outlier: [100, 100, 100], near: [100, REQUESTED, REQUESTED], plain: [REQUESTED] * 4}
    cases: dict[uuid.UUID, list[str]] = {}
    for merchant_id, values in amounts.items():
        for amount in values:
            case_id, _ = await settled(client, apply_event, sessionmaker, tokens, region=OUTLIERS,
                                       merchant_id=merchant_id, offer={"type": "refund", "amount_fen": amount})
            cases.setdefault(merchant_id, []).append(case_id)
    # Another sector's enterprise with a clean record does not lower the food sector's rate.
    for _ in range(3):
        await settled(client, apply_event, sessionmaker, tokens, region=OUTLIERS, sector="travel",
                      offer={"type": "refund", "amount_fen": REQUESTED})
    terminating = [await mediated(client, apply_event, sessionmaker, tokens, mediator="med-strict", ground=2)
                   for _ in range(3)]
    for _ in range(3):
        await mediated(client, apply_event, sessionmaker, tokens, mediator="med-patient", ground=1)

    now = utcnow() + timedelta(seconds=1)
    await raise_outliers(sessionmaker, now=now)
    await raise_outliers(sessionmaker, now=now)
    enterprise = await signals_of(client, tokens, OUTLIERS, signal="enterprise_outlier")
    assert [item["detail"]["merchant_id"] for item in enterprise] == [str(outlier)]
    assert enterprise[0]["case_id"] == cases[outlier][-1]
    rates = enterprise[0]["detail"]["rates"]
    assert list(rates) == ["low_settlement"]
    assert (rates["low_settlement"]["count"], rates["low_settlement"]["cases"]) == (3, 3)
    assert (rates["low_settlement"]["peer_count"], rates["low_settlement"]["peer_cases"]) == (1, 7)
    assert rates["low_settlement"]["z"] >= 3
    mediator = await signals_of(client, tokens, OUTLIERS, signal="mediator_outlier")
    assert [item["detail"]["mediator_id"] for item in mediator] == ["med-strict"]
    assert mediator[0]["case_id"] == terminating[-1]
    assert mediator[0]["detail"]["termination_rate"]["rate"] == 1.0


async def test_outlier_near_misses_too_few_cases_or_not_far_enough_and_the_region_s_minimum_decides(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    few_region, near_region = "632522", "632523"
    staff = bearer(tokens.regulator(region=OUTLIERS_PARENT))
    for region in (few_region, near_region):
        assert (await client.put("/v1/regulator/audit/thresholds", params={"region": region},
                                 json={"outlier_min_cases": 3}, headers=staff)).status_code == 200
    # Too few cases: an enterprise settling 2 of 2 below 10 % against a sector at 0 of 3, a mediator terminating
    # 2 of 2 against the county's 0 of 3. Far by z, yet below the minimum count of 3.
    few_merchant = uuid.uuid4()
    few_cases = [(await settled(client, apply_event, sessionmaker, tokens, region=few_region,
                                merchant_id=few_merchant, offer={"type": "refund", "amount_fen": 100}))[0]
                 for _ in range(2)]
    plain = uuid.uuid4()
    for _ in range(3):
        await settled(client, apply_event, sessionmaker, tokens, region=few_region, merchant_id=plain,
                      offer={"type": "refund", "amount_fen": REQUESTED})
    few_terminations = [await mediated(client, apply_event, sessionmaker, tokens, mediator="med-few", ground=2,
                                       region=few_region) for _ in range(2)]
    for _ in range(3):
        await mediated(client, apply_event, sessionmaker, tokens, mediator="med-calm", ground=1, region=few_region)
    # Not far enough: a mediator terminating 1 of 3 against the county's 0 of 3 (z 1.55, under 3).
    await mediated(client, apply_event, sessionmaker, tokens, mediator="med-some", ground=2, region=near_region)
    for mediator in ("med-some", "med-some", "med-quiet", "med-quiet", "med-quiet"):
        await mediated(client, apply_event, sessionmaker, tokens, mediator=mediator, ground=1, region=near_region)

    now = utcnow() + timedelta(seconds=1)
    await raise_outliers(sessionmaker, now=now)
    for region in (few_region, near_region):
        for kind in ("enterprise_outlier", "mediator_outlier"):
            assert await signals_of(client, tokens, region, signal=kind) == [], (region, kind)

    # The same rows under a county minimum of 2: both subjects with too few cases before are far now.
    assert (await client.put("/v1/regulator/audit/thresholds", params={"region": few_region},
                             json={"outlier_min_cases": 2}, headers=staff)).status_code == 200
    await raise_outliers(sessionmaker, now=now)
    enterprise = await signals_of(client, tokens, few_region, signal="enterprise_outlier")
    assert [(item["detail"]["merchant_id"], item["case_id"]) for item in enterprise] == [
        (str(few_merchant), few_cases[-1])]
    mediator = await signals_of(client, tokens, few_region, signal="mediator_outlier")
    assert [(item["detail"]["mediator_id"], item["case_id"]) for item in mediator] == [
        ("med-few", few_terminations[-1])]
    assert await signals_of(client, tokens, near_region, signal="mediator_outlier") == []


async def queue_of(client: httpx.AsyncClient, tokens: Tokens, region: str, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/regulator/audit/queue", params={"region": region, **params},
                                headers=bearer(tokens.regulator(region=region)))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_signals_and_the_sample_feed_one_queue_reviews_go_on_the_chain_and_figures_match_the_rows(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    regulator = bearer(tokens.regulator(region=REVIEWS))
    low, _ = await settled(client, apply_event, sessionmaker, tokens, region=REVIEWS,
                           offer={"type": "refund", "amount_fen": 500})
    fair, _ = await settled(client, apply_event, sessionmaker, tokens, region=REVIEWS,
                            offer={"type": "refund", "amount_fen": REQUESTED})
    queued = await queue_of(client, tokens, REVIEWS, state="open")
    assert [(item["case_id"], item["signals"], item["sampled"]) for item in queued] == [(low, ["low_settlement"],
                                                                                         False)]
    sample = await client.post("/v1/regulator/reviews/sample", params={"region": REVIEWS, "size": 5},
                               headers=regulator)
    assert {item["case_id"] for item in sample.json()["items"]} == {low, fair}
    queued = {item["case_id"]: item for item in await queue_of(client, tokens, REVIEWS, state="open")}
    assert set(queued) == {low, fair}
    assert (queued[low]["sampled"], queued[low]["signals"]) == (True, ["low_settlement"])
    assert (queued[fair]["sampled"], queued[fair]["signals"]) == (True, [])
    # The queue's filters: by the signal that raised an item, by whether the sample drew it.
    assert [item["case_id"] for item in await queue_of(client, tokens, REVIEWS, signal="low_settlement")] == [low]
    assert await queue_of(client, tokens, REVIEWS, signal="fulfilment_disputed") == []
    assert {item["case_id"] for item in await queue_of(client, tokens, REVIEWS, sampled="true")} == {low, fair}
    assert await queue_of(client, tokens, REVIEWS, sampled="false") == []

    before = (await client.get("/v1/regulator/audit/verify", params={"region": REVIEWS}, headers=regulator)).json()
    referred = await client.post(f"/v1/regulator/audit/queue/{queued[low]['id']}/outcome", headers=regulator,
                                 json={"outcome": "referred_for_enforcement", "note": "退款不足请求的 2 %"})
    assert referred.status_code == 200, referred.text
    assert referred.json()["outcome"] == "referred_for_enforcement"
    assert referred.json()["chain_seq"] == before["entries"] + 1
    confirmed = await client.post(f"/v1/regulator/audit/queue/{queued[fair]['id']}/outcome", headers=regulator,
                                  json={"outcome": "confirmed"})
    assert confirmed.status_code == 200
    again = await client.post(f"/v1/regulator/audit/queue/{queued[low]['id']}/outcome", headers=regulator,
                              json={"outcome": "confirmed"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert (await client.post(f"/v1/regulator/audit/queue/{uuid.uuid4()}/outcome", headers=regulator,
                              json={"outcome": "confirmed"})).status_code == 404
    assert (await client.post(f"/v1/regulator/audit/queue/{queued[fair]['id']}/outcome", headers=regulator,
                              json={"outcome": "fine"})).status_code == 422

    verified = (await client.get("/v1/regulator/audit/verify", params={"region": REVIEWS}, headers=regulator)).json()
    assert (verified["ok"], verified["entries"]) == (True, before["entries"] + 2)
    async with sessionmaker() as session:
        entry = (await session.execute(text(
            "SELECT kind, entry FROM audit_entry WHERE region_code = :region AND seq = :seq"),
            {"region": REVIEWS, "seq": referred.json()["chain_seq"]})).one()
    assert entry.kind == "reviewed"
    published = [payload for event, payload in await outbox_events(sessionmaker, low)
                 if event == "mediation.case.reviewed.v1"]
    assert [(payload["outcome"], payload["finding"], payload["signals"]) for payload in published] == [
        ("referred_for_enforcement", True, ["low_settlement"])]
    assert (entry.entry["details"]["outcome"], entry.entry["details"]["signals"]) == (
        "referred_for_enforcement", ["low_settlement"])
    samples = {item["case_id"]: item for item in (await client.get(
        "/v1/regulator/reviews", params={"region": REVIEWS}, headers=regulator)).json()["items"]}
    assert (samples[fair]["outcome"], samples[low]["outcome"]) == ("satisfactory", "issues_found")
    assert await queue_of(client, tokens, REVIEWS, state="open") == []

    today = local_date(utcnow()).isoformat()
    figures = await client.get("/v1/regulator/audit/figures", params={"region": REVIEWS, "from": today, "to": today},
                               headers=regulator)
    assert figures.status_code == 200, figures.text
    body = figures.json()
    async with sessionmaker() as session:
        reviewed = (await session.execute(text(
            "SELECT count(DISTINCT case_id) AS cases, count(*) FILTER (WHERE outcome <> 'confirmed') AS findings "
            "FROM audit_review WHERE region_code LIKE :prefix AND reviewed_at IS NOT NULL"),
            {"prefix": f"{REVIEWS}%"})).one()
        by_outcome = dict((await session.execute(text(
            "SELECT outcome, count(*) FROM audit_review WHERE region_code LIKE :prefix AND reviewed_at IS NOT NULL "
            "GROUP BY outcome"), {"prefix": f"{REVIEWS}%"})).all())
        by_kind = dict((await session.execute(text(
            "SELECT kind, count(*) FROM outcome_signal WHERE region_code LIKE :prefix GROUP BY kind"),
            {"prefix": f"{REVIEWS}%"})).all())
    assert (body["cases_reviewed"], body["findings"]) == (reviewed.cases, reviewed.findings) == (2, 1)
    assert {outcome: count for outcome, count in body["outcomes"].items() if count} == by_outcome
    assert {kind: count for kind, count in body["signals_raised"].items() if count} == by_kind
    per_enterprise = {item["merchant_id"]: item for item in body["enterprises"]}
    assert sum(item["cases_reviewed"] for item in per_enterprise.values()) == 2
    yesterday = (local_date(utcnow()) - timedelta(days=1)).isoformat()
    empty = (await client.get("/v1/regulator/audit/figures", headers=regulator,
                              params={"region": REVIEWS, "from": yesterday, "to": yesterday})).json()
    assert (empty["cases_reviewed"], empty["findings"]) == (0, 0)
    reversed_period = await client.get("/v1/regulator/audit/figures", headers=regulator,
                                       params={"region": REVIEWS, "from": today, "to": yesterday})
    assert reversed_period.status_code == 422


async def test_outcome_records_show_asked_against_agreed_who_settled_fulfilment_and_rating(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    region = "632722"
    case_id, _ = await settled(client, apply_event, sessionmaker, tokens, region=region,
                               offer={"type": "refund", "amount_fen": 1_000})
    async with sessionmaker() as session:
        complaint_id = await session.scalar(text("SELECT complaint_id FROM mediation_case WHERE id = :id"),
                                            {"id": uuid.UUID(case_id)})
    await apply_event(envelope_of(ComplaintRated(complaint_id=complaint_id, merchant_id=None, rating=2,
                                                 rated_at=utcnow())))
    open_case_id, _ = await file_complaint(apply_event, sessionmaker, region=region, merchant_id=uuid.uuid4(),
                                           consumer_id="c-open")
    regulator = bearer(tokens.regulator(region="632700"))
    listed = await client.get("/v1/regulator/audit/outcomes", params={"region": region, "limit": 1},
                              headers=regulator)
    assert listed.status_code == 200, listed.text
    assert listed.json()["next_cursor"] is None
    record = listed.json()["items"][0]
    assert record["case_id"] == case_id
    assert (record["requested"], record["agreed"]) == ({"type": "refund", "amount_fen": REQUESTED},
                                                      {"type": "refund", "amount_fen": 1_000})
    assert (record["status"], record["settled_by"], record["sector"], record["rating"]) == (
        "settled", "enterprise_negotiation", "food", 2)
    assert record["days_to_close"] == 0
    assert record["fulfilment"] == {"status": "pending", "fulfil_by": None}
    assert record["signals"] == ["low_settlement"]
    one = await client.get(f"/v1/regulator/audit/outcomes/{case_id}", headers=regulator)
    assert one.json() == record
    assert (await client.get(f"/v1/regulator/audit/outcomes/{open_case_id}", headers=regulator)).status_code == 404
    elsewhere = await client.get(f"/v1/regulator/audit/outcomes/{case_id}",
                                 headers=bearer(tokens.regulator(region="632800")))
    assert elsewhere.status_code == 404
    bad_cursor = await client.get("/v1/regulator/audit/outcomes", params={"region": region, "cursor": "!!"},
                                  headers=regulator)
    assert bad_cursor.status_code == 422


async def test_a_station_s_settlement_on_the_spot_is_an_outcome_record_settled_by_the_station(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    region = "632723"
    case_id, _ = await settled(client, apply_event, sessionmaker, tokens, region=region,
                               offer={"type": "refund", "amount_fen": REQUESTED})
    station_id, merchant_id, complaint_id = uuid.uuid4(), uuid.uuid4(), new_id()
    case_no = f"TS-{region}-20261205-000001"
    filed_at = utcnow()
    await apply_event(envelope_of(ComplaintFiled(
        complaint_id=complaint_id, case_no=case_no, kind="complaint", region_code=region, merchant_id=merchant_id,
        respondent_name="某商店", sector="food", category=None, channel="station", request_type="refund",
        request_amount_fen=REQUESTED, green_channel=False, filed_at=filed_at)))
    closed = ComplaintClosed(complaint_id=complaint_id, case_no=case_no, region_code=region, merchant_id=merchant_id,
                             status="closed_settled", recovered_fen=5_000, closed_at=filed_at,
                             settled_by_station=station_id)
    await apply_event(envelope_of(closed))
    await apply_event(envelope_of(closed))  # a redelivery under a new event id adds nothing
    await apply_event(envelope_of(ComplaintRated(complaint_id=complaint_id, merchant_id=merchant_id, rating=4,
                                                 rated_at=utcnow())))
    # Any other closure is of a case mediation already has: it adds no record.
    await apply_event(envelope_of(closed.model_copy(update={"complaint_id": new_id(), "settled_by_station": None})))

    regulator = bearer(tokens.regulator(region=region))
    first = await client.get("/v1/regulator/audit/outcomes", params={"region": region, "limit": 1},
                             headers=regulator)
    assert first.status_code == 200, first.text
    [record] = first.json()["items"]
    assert (record["case_id"], record["complaint_id"], record["case_no"]) == (None, str(complaint_id), case_no)
    assert (record["settled_by"], record["stage"], record["status"], record["mediator_id"]) == (
        "station", "station", "settled", str(station_id))
    assert (record["requested"], record["agreed"]) == ({"type": "refund", "amount_fen": REQUESTED},
                                                      {"type": None, "amount_fen": 5_000})
    assert (record["days_to_close"], record["fulfilment"], record["rating"], record["sector"]) == (0, None, 4, "food")
    # One cursor pages through the stations' settlements and the mediation cases together, newest first.
    rest = await client.get("/v1/regulator/audit/outcomes", headers=regulator,
                            params={"region": region, "limit": 1, "cursor": first.json()["next_cursor"]})
    assert [item["case_id"] for item in rest.json()["items"]] == [case_id]
    assert rest.json()["next_cursor"] is None
    of_merchant = await client.get("/v1/regulator/audit/outcomes", headers=regulator,
                                   params={"region": region, "merchant_id": str(merchant_id)})
    assert [item["complaint_id"] for item in of_merchant.json()["items"]] == [str(complaint_id)]
    elsewhere = await client.get("/v1/regulator/audit/outcomes", params={"region": "632800"},
                                 headers=bearer(tokens.regulator(region="632800")))
    assert str(complaint_id) not in [item["complaint_id"] for item in elsewhere.json()["items"]]
    async with sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM station_settlement WHERE region_code = :region"),
                                    {"region": region}) == 1


async def test_changing_a_recorded_review_row_breaks_its_chain_entry(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    region = "632622"
    regulator = bearer(tokens.regulator(region=region))
    case_id, _ = await settled(client, apply_event, sessionmaker, tokens, region=region,
                               offer={"type": "refund", "amount_fen": 1})
    item = (await queue_of(client, tokens, region, state="open"))[0]
    assert item["case_id"] == case_id
    recorded = await client.post(f"/v1/regulator/audit/queue/{item['id']}/outcome", headers=regulator,
                                 json={"outcome": "agreement_reopened_with_consent"})
    assert recorded.status_code == 200
    assert (await client.get("/v1/regulator/audit/verify", params={"region": region},
                             headers=regulator)).json()["ok"] is True
    async with sessionmaker() as session, session.begin():
        # Someone with database access turns the finding into a clean review, so the figures would hide it.
        await session.execute(text("UPDATE audit_review SET outcome = 'confirmed' WHERE id = :id"),
                              {"id": uuid.UUID(item["id"])})
    broken = (await client.get("/v1/regulator/audit/verify", params={"region": region}, headers=regulator)).json()
    assert broken["ok"] is False
    assert (broken["first_broken"]["seq"], broken["first_broken"]["reason"]) == (recorded.json()["chain_seq"],
                                                                                 "review")
