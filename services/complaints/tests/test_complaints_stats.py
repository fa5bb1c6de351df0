"""Statistics are exact: 2,000 CFPB rows are filed through the API, their outcomes driven through the same use cases
and events the services use, and every figure must equal the count recomputed from the rows (see cfpb_replay).

The endpoint reads the cubes (stats.service.compute); the last tests compare them with the count from the case rows
(compute_from_cases, the definition) over many periods, regions, filters and groupings, with deltas not folded yet,
after a fold and after a rebuild."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from cfpb_replay import Expected, Outcome, Record, county_of_state, enrolled_companies, expected_cases, load
from complaints_support import PII_KEY, Area, Consumer, Seed, bearer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.cli import rebuild_statistics
from complaints.complaint import decisions
from complaints.complaint.enums import Channel, ComplaintKind, IssueType
from complaints.complaint.schemas import RefuseIn
from complaints.complaint.service import sweep_breaches
from complaints.consultation.service import sweep_breaches as sweep_consultations
from complaints.database import outbox
from complaints.publisher import Publisher
from complaints.report import service as report_service
from complaints.report.schemas import ReportDecisionIn
from complaints.settings import ComplaintsSettings
from complaints.stats.service import FIGURES, FOLD_LOCK, GroupBy, Scope, compute, compute_from_cases, fold, with_rates
from servicekit.auth import Audience, Principal, Role
from servicekit.calendar import local_date
from servicekit.contracts.mediation_v1 import CaseSettled, CaseTerminated, NegotiationFailed
from servicekit.db import utcnow
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

ROWS = 2000
CONSULTATIONS = 60
STATS = "/v1/regulator/stats"
PUBLISHER = Publisher(outbox=Outbox(outbox, "complaints"), source="complaints", cipher=PiiCipher(PII_KEY))
COUNTED = [f.name for f in fields(Expected) if f.name not in ("region", "kind", "channel", "merchant", "issue_type")]


def figures_of(cases: Iterable[Expected]) -> dict[str, Any]:
    """The statistics the rows call for, computed in Python from the mapping."""
    chosen = list(cases)
    counts = {name: sum(getattr(case, name) for case in chosen) for name in COUNTED}
    counts |= {"received": sum(c.kind != "consultation" for c in chosen),
               "complaints": sum(c.kind == "complaint" for c in chosen),
               "reports": sum(c.kind == "report" for c in chosen)}
    return with_rates(counts)


class Replay:
    """Files the rows and drives their outcomes; remembers the case ids."""

    def __init__(self, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession],
                 settings: ComplaintsSettings, area: Area, merchants: dict[str, uuid.UUID], auth: dict[str, str],
                 consumer_id: str) -> None:
        self.client = client
        self.sessionmaker = sessionmaker
        self.cipher = PiiCipher(settings.pii_key.get_secret_value())
        self.area = area
        self.merchants = merchants
        self.auth = auth
        self.consumer_id = consumer_id
        self.regulator = Principal(sub="reg-stats", aud=Audience.REGULATOR, roles=frozenset({Role.REGULATOR}),
                                   region=area.prefecture)
        self.cases: dict[int, tuple[uuid.UUID, uuid.UUID | None]] = {}

    def region_of(self, record: Record) -> str:
        merchant_id = self.merchants.get(record.company)
        if merchant_id is not None:
            return self.merchant_regions[record.company]
        return county_of_state(record.state, self.area.counties)

    @property
    def merchant_regions(self) -> dict[str, str]:
        return {company: self.area.counties[index % len(self.area.counties)]
                for index, company in enumerate(self.merchants)}

    async def file(self, record: Record) -> None:
        merchant_id = self.merchants.get(record.company)
        respondent = ({"merchant_id": str(merchant_id)} if merchant_id else
                      {"name": record.company[:200], "region_code": self.region_of(record)})
        body = {
            "kind": record.kind, "green_channel": merchant_id is not None,
            "complainant": {"name": f"消费者{record.complaint_id}", "phone": f"139{record.complaint_id % 10**8:08d}"},
            "respondent": respondent, "request": {"type": "refund" if record.amount_fen else "other"},
            "facts": record.issue, "sector": "finance", "category": record.category, "channel": record.channel,
            "issue_type": record.issue_type,
        }
        response = await self.client.post("/v1/consumer/complaints", json=body, headers=self.auth)
        assert response.status_code == 201, response.text
        filed = response.json()
        linked = filed["linked_case_id"]
        self.cases[record.complaint_id] = (uuid.UUID(filed["id"]), uuid.UUID(linked) if linked else None)

    async def ask(self, index: int, tokens: Tokens) -> tuple[str, str]:
        """File consultation `index` (see consultation_expected); its id and what happens to it."""
        county = self.area.counties[index % len(self.area.counties)]
        channel = CONSULTATION_CHANNELS[index % len(CONSULTATION_CHANNELS)]
        body = {"question": f"咨询 {index}", "sector": "finance", "region_code": county, "channel": channel}
        if channel == "hotline":
            body["asker"] = {"name": "来电人", "phone": f"137{index:08d}"}
            response = await self.client.post("/v1/regulator/consultations", json=body,
                                              headers=bearer(tokens.regulator(region=self.area.prefecture)))
        else:
            response = await self.client.post("/v1/consumer/consultations", json=body, headers=self.auth)
        assert response.status_code == 201, response.text
        return response.json()["id"], CONSULTATION_OUTCOMES[index % 3]

    async def answer(self, consultation_id: str, tokens: Tokens) -> None:
        response = await self.client.post(f"/v1/regulator/consultations/{consultation_id}/answer",
                                          json={"answer": "答复"},
                                          headers=bearer(tokens.regulator(region=self.area.prefecture)))
        assert response.status_code == 200, response.text

    async def _in_transaction(self, work: Callable[[AsyncSession], Awaitable[None]]) -> None:
        async with self.sessionmaker() as session, session.begin():
            await work(session)

    def _case_fields(self, record: Record, complaint_id: uuid.UUID) -> dict[str, Any]:
        return {"case_id": uuid.uuid5(uuid.NAMESPACE_OID, str(complaint_id)), "complaint_id": complaint_id,
                "merchant_id": self.merchants.get(record.company), "region_code": self.region_of(record),
                "at": datetime.now(UTC)}

    async def _settle(self, record: Record, complaint_id: uuid.UUID, stage: str) -> None:
        event = CaseSettled(**self._case_fields(record, complaint_id), stage=stage, agreement_id=uuid.uuid4(),
                            agreement_hash="0" * 64, amount_fen=record.amount_fen, fulfil_by=None)
        await self._in_transaction(lambda session: decisions.record_settled(session, event, PUBLISHER))

    async def _regulator_decides(self, record: Record, complaint_id: uuid.UUID) -> None:
        """From pending_acceptance: accept and let mediation end it, refuse, or let the consumer withdraw."""
        outcome = record.outcome
        if outcome in (Outcome.SETTLE, Outcome.TERMINATE):
            async with self.sessionmaker() as session:
                await decisions.accept(session, case_id=complaint_id, principal=self.regulator, cipher=self.cipher,
                                       publisher=PUBLISHER)
            if outcome is Outcome.SETTLE:
                await self._settle(record, complaint_id, "mediation")
            else:
                event = CaseTerminated(**self._case_fields(record, complaint_id),
                                       ground=record.termination_ground, note=None)
                await self._in_transaction(lambda session: decisions.record_terminated(session, event, PUBLISHER))
        elif outcome is Outcome.REFUSE:
            async with self.sessionmaker() as session:
                await decisions.refuse(session, case_id=complaint_id, principal=self.regulator,
                                       body=RefuseIn(ground=3, note="无法证明存在消费争议"), publisher=PUBLISHER)
        elif outcome is Outcome.WITHDRAW:
            async with self.sessionmaker() as session:
                await decisions.withdraw(session, case_id=complaint_id, consumer_id=self.consumer_id,
                                         publisher=PUBLISHER)

    async def drive(self, record: Record) -> None:
        """Everything that happens to the row's cases; call once before and once after the clocks ran out."""
        complaint_id, report_id = self.cases[record.complaint_id]
        outcome = record.outcome
        if record.company in self.merchants:
            if not record.late and outcome is Outcome.SETTLE:
                await self._settle(record, complaint_id, "negotiation")
            elif not record.late and outcome is Outcome.WITHDRAW:
                await self._regulator_decides(record, complaint_id)
            elif record.late or outcome is not Outcome.NONE:
                failed = NegotiationFailed(**self._case_fields(record, complaint_id), reason="no agreement")
                await self._in_transaction(
                    lambda session: decisions.record_negotiation_failed(session, failed, self.cipher, PUBLISHER))
                await self._regulator_decides(record, complaint_id)
        else:
            await self._regulator_decides(record, complaint_id)
        if report_id is not None and outcome is not Outcome.NONE:
            async with self.sessionmaker() as session:
                await report_service.decide(session, case_id=report_id, principal=self.regulator,
                                            body=ReportDecisionIn(case_opened=record.opens_case, reason=record.issue),
                                            publisher=PUBLISHER)


async def gather_limited(jobs: Iterable[Awaitable[None]], limit: int = 8) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def run(job: Awaitable[None]) -> None:
        async with semaphore:
            await job

    await asyncio.gather(*(run(job) for job in jobs))


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return load(ROWS)


@pytest.fixture(scope="module")
async def replayed(
    records: list[Record], app: Any, sessionmaker: async_sessionmaker[AsyncSession], settings: ComplaintsSettings,
    tokens: Tokens, enrolled_merchant_module: Seed, stats_area: Area,
) -> tuple[Replay, list[Expected]]:
    """The rows filed and driven once for the module; the expected cases worked out from the rows alone."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://complaints") as client:
        companies = enrolled_companies(records)
        merchants = {company: await enrolled_merchant_module(stats_area.counties[index % len(stats_area.counties)],
                                                             name=company[:200])
                     for index, company in enumerate(companies)}
        consumer_id = "consumer-cfpb-replay"
        replay = Replay(client, sessionmaker, settings, stats_area, merchants,
                        bearer(tokens.consumer(consumer_id)), consumer_id)
        await gather_limited(replay.file(record) for record in records)
        consulted = [await replay.ask(index, tokens) for index in range(CONSULTATIONS)]
        await gather_limited(replay.drive(record) for record in records if not record.late)
        await gather_limited(replay.answer(consultation_id, tokens) for consultation_id, outcome in consulted
                             if outcome == "on_time")
        # Every clock still open runs out: the sweepers run with a clock three months on.
        await sweep_breaches(sessionmaker, now=utcnow() + timedelta(days=90), publisher=PUBLISHER)
        await sweep_consultations(sessionmaker, now=utcnow() + timedelta(days=90))
        await gather_limited(replay.drive(record) for record in records if record.late)
        await gather_limited(replay.answer(consultation_id, tokens) for consultation_id, outcome in consulted
                             if outcome == "late")
    expected = [case for record in records for case in expected_cases(
        record, region=replay.region_of(record),
        merchant=str(merchants[record.company]) if record.company in merchants else None)]
    expected += [consultation_expected(index, stats_area) for index in range(CONSULTATIONS)]
    return replay, expected


CONSULTATION_CHANNELS = ("app", "web", "hotline", "mini_program", "hotline")
CONSULTATION_OUTCOMES = ("on_time", "late", "open")


def consultation_expected(index: int, area: Area) -> Expected:
    """A consultation contributes its three figures and nothing else."""
    outcome = CONSULTATION_OUTCOMES[index % 3]
    return Expected(region=area.counties[index % len(area.counties)], kind="consultation", issue_type="other",
                    channel=CONSULTATION_CHANNELS[index % len(CONSULTATION_CHANNELS)], merchant=None, accepted=0,
                    refused=0, closed=0, closed_on_time=0, settled=0, terminated=0, recovered_fen=0,
                    initial_reviews_due=0, initial_reviews_on_time=0, report_verifications_due=0,
                    report_verifications_on_time=0, consultations=1, consultations_answered=int(outcome != "open"),
                    consultations_answered_on_time=int(outcome == "on_time"))


def period() -> dict[str, str]:
    today = local_date(utcnow())
    return {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


def figures_in(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body[name] for name in figures_of([])}


async def test_every_figure_equals_the_count_recomputed_from_the_rows(
    client: httpx.AsyncClient, tokens: Tokens, replayed: tuple[Replay, list[Expected]], stats_area: Area,
) -> None:
    _, expected = replayed
    staff = bearer(tokens.regulator(region=stats_area.prefecture))

    response = await client.get(STATS, params={"region": stats_area.prefecture, **period()}, headers=staff)

    assert response.status_code == 200, response.text
    body = response.json()
    assert figures_in(body) == figures_of(expected)
    assert body["received"] >= ROWS
    assert body["consultations"] == CONSULTATIONS
    assert body["consultations_answered_on_time"] < body["consultations_answered"] < body["consultations"]
    # The outcomes are varied enough for every figure to mean something.
    for name in ("accepted", "refused", "settled", "terminated", "recovered_fen", "reports", "closed_on_time",
                 "initial_reviews_due", "report_verifications_due", "consultations", "consultations_answered",
                 "consultations_answered_on_time"):
        assert body[name] > 0, name
    assert 0 < body["on_time_initial_review_rate"] < 1
    assert 0 < body["on_time_report_verification_rate"] < 1


async def test_figures_roll_up_from_counties_and_group_by_region(
    client: httpx.AsyncClient, tokens: Tokens, replayed: tuple[Replay, list[Expected]], stats_area: Area,
) -> None:
    _, expected = replayed
    staff = bearer(tokens.regulator(region=stats_area.prefecture))

    grouped = (await client.get(STATS, params={"region": stats_area.prefecture, "group_by": "region", **period()},
                                headers=staff)).json()
    county = stats_area.first
    one = (await client.get(STATS, params={"region": county, **period()},
                            headers=bearer(tokens.regulator(region=county)))).json()

    regions = sorted({case.region for case in expected})
    assert [group["key"] for group in grouped["groups"]] == regions
    for group in grouped["groups"]:
        assert figures_in(group) == figures_of(c for c in expected if c.region == group["key"]), group["key"]
    assert figures_in(one) == figures_of(c for c in expected if c.region == county)


@pytest.mark.parametrize("dimension", ["kind", "channel", "merchant", "issue_type"])
async def test_figures_grouped_by_a_dimension(
    client: httpx.AsyncClient, tokens: Tokens, replayed: tuple[Replay, list[Expected]], stats_area: Area,
    dimension: str,
) -> None:
    _, expected = replayed

    body = (await client.get(STATS, params={"region": stats_area.prefecture, "group_by": dimension, **period()},
                             headers=bearer(tokens.regulator(region=stats_area.prefecture)))).json()

    keys = {getattr(case, dimension) for case in expected}
    assert {group["key"] for group in body["groups"]} == keys
    assert figures_in(body) == figures_of(expected)
    for group in body["groups"]:
        assert figures_in(group) == figures_of(c for c in expected if getattr(c, dimension) == group["key"])


async def test_filters_narrow_every_figure(
    client: httpx.AsyncClient, tokens: Tokens, replayed: tuple[Replay, list[Expected]], stats_area: Area,
) -> None:
    replay, expected = replayed
    staff = bearer(tokens.regulator(region=stats_area.prefecture))
    merchant_id = str(next(iter(replay.merchants.values())))

    async def stats(**filters: str) -> dict[str, Any]:
        response = await client.get(STATS, params={"region": stats_area.prefecture, **period(), **filters},
                                    headers=staff)
        assert response.status_code == 200, response.text
        return figures_in(response.json())

    assert await stats(kind="report") == figures_of(c for c in expected if c.kind == "report")
    assert await stats(channel="hotline") == figures_of(c for c in expected if c.channel == "hotline")
    assert await stats(issue_type="price") == figures_of(c for c in expected if c.issue_type == "price")
    assert await stats(issue_type="safety") == figures_of([])
    # Consultations have no issue type and count under `other`.
    assert await stats(issue_type="other") == figures_of(c for c in expected if c.issue_type == "other")
    assert await stats(merchant_id=merchant_id) == figures_of(c for c in expected if c.merchant == merchant_id)
    assert await stats(sector="finance") == figures_of(expected)
    assert await stats(sector="food") == figures_of([])
    tomorrow = (local_date(utcnow()) + timedelta(days=2)).isoformat()
    assert await stats(**{"from": tomorrow, "to": tomorrow}) == {**figures_of([])}


async def test_stats_only_for_regions_one_governs(
    client: httpx.AsyncClient, tokens: Tokens, stats_area: Area, consumer: Consumer,
) -> None:
    outside = await client.get(STATS, params={"region": stats_area.prefecture},
                               headers=bearer(tokens.regulator(region="632801")))
    consumer_token = await client.get(STATS, headers=consumer()[1])
    backwards = await client.get(STATS, params={"from": "2026-02-01", "to": "2026-01-01"},
                                 headers=bearer(tokens.regulator(region=stats_area.prefecture)))

    assert outside.status_code == consumer_token.status_code == 403
    assert backwards.status_code == 422


async def test_every_figure_is_defined_in_the_api_description(client: httpx.AsyncClient) -> None:
    description = (await client.get("/openapi.json")).json()["paths"][STATS]["get"]["description"]

    for name in figures_of([]):
        assert f"`{name}`" in description
    assert set(FIGURES) == set(figures_of([]))


def scopes(rng: random.Random, area: Area, merchants: list[uuid.UUID],
           today: date) -> list[tuple[Scope, GroupBy | None]]:
    """Random periods (whole months, edges, single days, across years) x regions x filters x groupings."""
    regions = [area.prefecture, area.first, "630000", "632800"]
    periods = [(today - timedelta(days=730), today), (today.replace(month=1, day=1), today), (today, today),
               (date(today.year - 1, 3, 1), date(today.year - 1, 3, 31))]
    for _ in range(8):
        start = today - timedelta(days=rng.randrange(0, 800))
        periods.append((start, min(today, start + timedelta(days=rng.randrange(0, 400)))))
    chosen: list[tuple[Scope, GroupBy | None]] = []
    for start, end in periods:
        for _ in range(3):
            filters: dict[str, Any] = rng.choice([
                {}, {"kind": rng.choice(list(ComplaintKind)[:2])}, {"sector": rng.choice(["finance", "food"])},
                {"channel": rng.choice(list(Channel))}, {"merchant_id": rng.choice(merchants)},
                {"kind": ComplaintKind.COMPLAINT, "channel": Channel.WEB},
                {"issue_type": rng.choice(list(IssueType))},
            ])
            chosen.append((Scope(region=rng.choice(regions), start=start, end=end, **filters),
                           rng.choice([None, *GroupBy])))
    return chosen


async def assert_cubes_match_the_cases(sessionmaker: async_sessionmaker[AsyncSession],
                                       checks: list[tuple[Scope, GroupBy | None]]) -> None:
    """Both answers from one snapshot, so a case changing in between cannot make them differ."""
    async with sessionmaker() as session, session.begin():
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        for scope, group_by in checks:
            assert await compute(session, scope, group_by) == await compute_from_cases(session, scope, group_by), \
                (scope, group_by)


async def count_deltas(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int((await session.execute(text("SELECT count(*) FROM stats_delta"))).scalar_one())


async def test_cubes_give_the_figures_the_case_rows_give_before_and_after_folding(
    replayed: tuple[Replay, list[Expected]], sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine,
    stats_area: Area,
) -> None:
    replay, _ = replayed
    rng = random.Random(12315)
    today = local_date(utcnow())
    checks = scopes(rng, stats_area, list(replay.merchants.values()), today)
    case_ids = [case_id for pair in replay.cases.values() for case_id in pair if case_id is not None]
    async with engine.connect() as holder:
        # While this session holds the compactor's lock, every change stays in stats_delta.
        await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": FOLD_LOCK})
        await holder.commit()
        try:
            # Spread the cases over two years, two sectors and three issue types: each such change moves a
            # contribution between keys.
            async with sessionmaker() as session, session.begin():
                for case_id in case_ids:
                    await session.execute(
                        text("UPDATE complaint SET filed_at = filed_at - make_interval(days => :days, hours => :hours),"
                             " sector = :sector, issue_type = :issue_type WHERE id = :id"),
                        {"days": rng.randrange(0, 760), "hours": rng.randrange(0, 24),
                         "sector": rng.choice(["finance", "finance", "food"]),
                         "issue_type": rng.choice(["price", "quality", "other"]), "id": case_id})
            assert await count_deltas(sessionmaker) >= len(case_ids)
            await assert_cubes_match_the_cases(sessionmaker, checks)
        finally:
            await holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": FOLD_LOCK})
            await holder.commit()

    async with sessionmaker() as session, session.begin():
        await fold(session)
    await assert_cubes_match_the_cases(sessionmaker, checks)


async def test_rebuild_recomputes_the_cubes_from_the_case_rows(
    replayed: tuple[Replay, list[Expected]], sessionmaker: async_sessionmaker[AsyncSession],
    settings: ComplaintsSettings, stats_area: Area,
) -> None:
    replay, _ = replayed
    today = local_date(utcnow())
    checks = scopes(random.Random(6), stats_area, list(replay.merchants.values()), today)
    province = Scope(region="630000", start=today - timedelta(days=800), end=today)
    async with sessionmaker() as session, session.begin():
        # What a bulk load with the triggers off leaves behind: cubes that miss cases.
        await session.execute(text("DELETE FROM stats_month WHERE kind = 'report'"))
        await session.execute(text("DELETE FROM stats_day WHERE kind = 'report'"))
        await session.execute(text("DELETE FROM stats_delta WHERE kind = 'report'"))
    async with sessionmaker() as session:
        [(_, wrong)] = await compute(session, province, None)
        [(_, right)] = await compute_from_cases(session, province, None)
    assert wrong["reports"] == 0 < right["reports"]

    cases = await rebuild_statistics(settings)

    assert cases >= len(replay.cases)
    assert await count_deltas(sessionmaker) == 0
    await assert_cubes_match_the_cases(sessionmaker, checks)
