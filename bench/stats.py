"""Statistics at scale: COPY 1 M then 10 M cases into the complaints database, rebuild the statistics cubes, time
GET /v1/regulator/stats.

The cases are generated from the CFPB file's distributions (company -> merchant, state -> Qinghai county, submission
channel, product -> category, company response -> outcome, timely response -> clock met or breached), filed over the
last two years, and written with binary COPY (asyncpg) into the tables the migrations made; each case has one clock.
The queries are those a provincial regulator's dashboard makes (region 630000: roll-up over every county below):
the province total, by region one level down, by month, by kind, one county for one month by kind, one merchant
by month and the province by channel with a sector filter.

    .venv/bin/python -m bench.stats [--sizes 1000000 10000000] [--repeats 10] [--workers 2] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import charts
from bench.common import (
    CHANNEL_BY_SUBMISSION,
    BodyRules,
    asyncpg_dsn,
    cfpb_rows,
    check_quiet,
    company_key,
    percentile,
    qinghai_counties,
    record,
    running_platform,
    say,
    stable_hash,
)
from servicekit.pii import PiiCipher

SCENARIO = "stats"
PROVINCE = "630000"
BATCH = 100_000
SEED = 12315
REPORT_SHARE = 0.04
HISTORY_DAYS = 730
OPEN_WITHIN_DAYS = 30
UTC = dt.UTC
FACTS = "CFPB-derived case for the statistics benchmark"
COMPLAINT_COLUMNS = (
    "id", "case_no", "kind", "status", "region_code", "consumer_id", "green_channel", "merchant_id", "respondent_name",
    "request_type", "request_amount_fen", "facts_enc", "sector", "category", "channel", "recovered_fen", "filed_at",
    "routed_at", "accepted_at", "decided_at", "refusal_ground", "closed_at", "updated_at",
)
DEADLINE_COLUMNS = ("id", "complaint_id", "kind", "due_date", "state", "due_at", "started_at", "met_at", "breached_at")
FINAL_RESPONSES = ("Closed with explanation", "Closed with non-monetary relief", "Closed with monetary relief",
                   "Untimely response", "Closed")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000],
                        help="total cases at each measurement, ascending (default 1 M and 10 M)")
    parser.add_argument("--repeats", type=int, default=10, help="timed requests per query and size")
    parser.add_argument("--budget", type=float, default=30.0,
                        help="seconds per query and size after which no further repeats are made (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="processes generating and copying cases (default 2)")
    parser.add_argument("--quick", action="store_true", help="sizes 20 k and 100 k, 3 repeats: a smoke run")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.sizes, arguments.repeats = [20_000, 100_000], 3
    return arguments


@dataclass(frozen=True)
class Source:
    """Per CFPB row, what a generated case takes from it (arrays indexed by row)."""

    merchant: list[uuid.UUID | None]
    respondent: list[str]
    county: list[str]
    channel: list[str]
    category: list[str]
    response: list[str]
    timely: np.ndarray
    final_rows: np.ndarray
    weekday_weights: np.ndarray

    @classmethod
    def load(cls, demo: dict[str, Any]) -> Source:
        merchants = demo["merchants"]
        enterprises = {"TRANSUNION": uuid.UUID(merchants[0]["merchant_id"]),
                       "EQUIFAX": uuid.UUID(merchants[1]["merchant_id"])}
        counties = qinghai_counties()
        rules = BodyRules(merchants[0]["merchant_id"], merchants[1]["merchant_id"], tuple(counties))
        rows = list(cfpb_rows())
        weekdays = np.zeros(7)
        for row in rows:
            weekdays[dt.date.fromisoformat(row["Date received"]).weekday()] += 1
        return cls(
            merchant=[enterprises.get(company_key(row["Company"])) for row in rows],
            respondent=[(row["Company"] or "Unknown")[:200] for row in rows],
            county=[counties[stable_hash(row["State"] or "?") % len(counties)] for row in rows],
            channel=[CHANNEL_BY_SUBMISSION.get(row["Submitted via"], "app") for row in rows],
            category=[rules.category(row["Product"]) for row in rows],
            response=[row["Company response to consumer"] for row in rows],
            timely=np.array([row["Timely response?"] != "No" for row in rows]),
            final_rows=np.array([index for index, row in enumerate(rows)
                                 if row["Company response to consumer"] in FINAL_RESPONSES]),
            weekday_weights=weekdays / weekdays.sum(),
        )


def generate(source: Source, start: int, count: int, now: dt.datetime, rng: np.random.Generator,
             cipher: PiiCipher) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """`count` complaint rows (numbered from `start`) and one clock row each; the facts sealed as the service seals
    them (its PII key, bound to the case), so the cases read back like filed ones."""
    rows = rng.integers(0, len(source.merchant), count)
    ages = rng.random(count) * HISTORY_DAYS
    old_and_open = (ages > OPEN_WITHIN_DAYS) & np.array([source.response[row] == "In progress" for row in rows])
    rows[old_and_open] = rng.choice(source.final_rows, int(old_and_open.sum()))
    is_report = rng.random(count) < REPORT_SHARE
    amounts = (rng.lognormal(10.5, 1.2, count)).astype(np.int64)
    decide_days = rng.integers(1, 7, count)
    complaints: list[tuple[Any, ...]] = []
    clocks: list[tuple[Any, ...]] = []
    for offset in range(count):
        number = start + offset
        row = int(rows[offset])
        filed = now - dt.timedelta(days=float(ages[offset]))
        case_id = uuid.UUID(int=(1 << 120) | number)
        merchant = source.merchant[row]
        green = merchant is not None
        timely = bool(source.timely[row])
        response = source.response[row]
        decided = filed + dt.timedelta(days=int(decide_days[offset]) if timely else 12)
        amount = int(amounts[offset])
        accepted = routed = closed = decided_at = None
        refusal = None
        recovered = 0
        if is_report[offset]:
            kind, prefix = "report", "JB"
            status = "verifying" if response == "In progress" else ("case_opened" if timely else "not_opened")
            clock_kind = "report_verification"
            decided_at = None if status == "verifying" else decided
            closed = decided_at if status == "not_opened" else None
        else:
            kind, prefix = "complaint", "TS"
            clock_kind = "merchant_negotiation" if green else "initial_review"
            routed = filed if green else None
            if response == "In progress":
                status = "with_merchant" if green else "pending_acceptance"
            elif response == "Closed with monetary relief":
                status, recovered, closed = "closed_settled", amount, decided
            elif response == "Closed with non-monetary relief":
                status, closed = "closed_settled", decided
            elif response == "Untimely response":
                status = "accepted"
            elif response == "Closed" and not green:
                status, refusal, closed = "closed_refused", 7, decided
            else:
                status, closed = "closed_terminated", decided + dt.timedelta(days=20)
            if not green and status != "pending_acceptance":
                decided_at = decided
                accepted = decided if refusal is None else None
            if status in ("accepted", "closed_terminated"):
                accepted = accepted or decided
        complaints.append((
            case_id, f"{prefix}{filed:%Y%m%d}{number:09d}", kind, status, source.county[row] if not green else "632801",
            f"c_bench{number % 50_000:06d}", green, merchant, source.respondent[row], "refund", amount,
            cipher.encrypt(FACTS, context=f"complaint:{case_id}:facts"), "finance", source.category[row],
            source.channel[row], recovered, filed, routed, accepted, decided_at, refusal, closed, closed or filed,
        ))
        due = (filed + dt.timedelta(days=9)).date()
        due_at = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(), UTC) - dt.timedelta(hours=8)
        open_clock = status in ("with_merchant", "pending_acceptance", "verifying")
        state = "running" if open_clock else ("met" if timely else "breached")
        clocks.append((uuid.UUID(int=(2 << 120) | number), case_id, clock_kind, due, state, due_at, filed,
                       decided if state == "met" else None, due_at if state == "breached" else None))
    return complaints, clocks


# The running service's statistics triggers read a case's clocks by this index (the breach sweeper fires them
# during the load): without it each refresh would scan every clock.
KEPT_INDEXES = ("ix_deadline_complaint_id",)


async def secondary_indexes(connection: asyncpg.Connection) -> list[tuple[str, str]]:
    """[(name, CREATE INDEX statement)] of the case tables' indexes that back no constraint (not the keys) and that
    the service can do without while the load runs."""
    rows = await connection.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
        "AND i.tablename IN ('complaint', 'deadline') AND i.indexname <> ALL($1::text[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) ORDER BY i.indexname",
        list(KEPT_INDEXES))
    return [(row["indexname"], row["indexdef"]) for row in rows]


async def copy_batches(dsn: str, source: Source, firsts: list[int], end: int, now: dt.datetime,
                       cipher: PiiCipher) -> None:
    """COPY the batches of cases starting at `firsts` (up to `end`) on one connection with the triggers off; each
    batch's random numbers come from a generator seeded with its first number, so the cases do not depend on how the
    batches are shared out."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SET session_replication_role = replica")
        for batch_start in firsts:
            count = min(BATCH, end - batch_start)
            complaints, clocks = generate(source, batch_start, count, now, np.random.default_rng([SEED, batch_start]),
                                          cipher)
            async with connection.transaction():
                await connection.copy_records_to_table("complaint", records=complaints, columns=COMPLAINT_COLUMNS)
                await connection.copy_records_to_table("deadline", records=clocks, columns=DEADLINE_COLUMNS)
    finally:
        await connection.close()


def copy_batches_in_process(dsn: str, demo: dict[str, Any], firsts: list[int], end: int, now: dt.datetime,
                            pii_key: str) -> None:
    """`copy_batches` in a worker process (generating the rows is Python work: one process per core)."""
    asyncio.run(copy_batches(dsn, Source.load(demo), firsts, end, now, PiiCipher(pii_key)))


async def load(dsn: str, demo: dict[str, Any], start: int, end: int, workers: int, pii_key: str) -> float:
    """COPY cases start..end-1, the fast way a bulk load may take: triggers off (the statistics triggers and the
    foreign-key checks; the rows are generated consistent), `workers` processes each copying a share of the batches,
    the secondary indexes dropped during the COPY and built again after it; returns seconds taken. The statistics
    are stale until `rebuild`."""
    began = time.monotonic()
    now = dt.datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    try:
        indexes = await secondary_indexes(connection)
        for name, _ in indexes:
            await connection.execute(f'DROP INDEX "{name}"')
        batches = list(range(start, end, BATCH))
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            await asyncio.gather(*(loop.run_in_executor(pool, copy_batches_in_process, dsn, demo,
                                                        batches[index::workers], end, now, pii_key)
                                   for index in range(workers) if batches[index::workers]))
        say(f"copied {end - start:,} cases ({time.monotonic() - began:.0f} s)")
        await connection.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            await connection.execute(definition)
        say(f"{len(indexes)} indexes built ({time.monotonic() - began:.0f} s)")
        await connection.execute("ANALYZE complaint")
        await connection.execute("ANALYZE deadline")
    finally:
        await connection.close()
    return time.monotonic() - began


async def rebuild(dsn: str) -> float:
    """`complaints.stats.service.rebuild` (what `python -m complaints.cli stats-rebuild` runs) after a load; returns
    seconds taken."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from complaints.stats import service as stats_service

    engine = create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        began = time.monotonic()
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(text("SET LOCAL work_mem = '256MB'"))
            await stats_service.rebuild(session)
        connection = await asyncpg.connect(dsn)
        try:
            for table in ("stats_case", "stats_day", "stats_month", "stats_merchant_day", "stats_merchant_month"):
                await connection.execute(f"ANALYZE {table}")
        finally:
            await connection.close()
        return time.monotonic() - began
    finally:
        await engine.dispose()


def queries(today: dt.date, merchant: uuid.UUID) -> dict[str, dict[str, str]]:
    """The dashboard's questions, as query strings of GET /v1/regulator/stats."""
    two_years = (today - dt.timedelta(days=HISTORY_DAYS)).isoformat()
    last_month_start = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    span = {"region": PROVINCE, "from": two_years, "to": today.isoformat()}
    return {
        "province total (2 y)": span,
        "province by region (2 y)": {**span, "group_by": "region"},
        "province by month (2 y)": {**span, "group_by": "month"},
        "province by kind (2 y)": {**span, "group_by": "kind"},
        "county by kind (1 month)": {"region": "632801", "from": last_month_start.isoformat(),
                                     "to": last_month_end.isoformat(), "group_by": "kind"},
        # Demo enterprise A (TransUnion's rows): a large share of all cases, too many to count one by one.
        "merchant A by month (2 y)": {**span, "merchant_id": str(merchant), "group_by": "month"},
        "province, sector finance, by channel (2 y)": {**span, "sector": "finance", "group_by": "channel"},
    }


async def direct_sql_ms(dsn: str, params: dict[str, str]) -> float:
    """One run of the statements the service runs for `params` (used when the gateway gives up at its timeout)."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from complaints.stats import service as stats_service

    scope = stats_service.Scope(region=params["region"], start=dt.date.fromisoformat(params["from"]),
                                end=dt.date.fromisoformat(params["to"]), sector=params.get("sector"),
                                merchant_id=uuid.UUID(params["merchant_id"]) if "merchant_id" in params else None)
    group_by = stats_service.GroupBy(params["group_by"]) if "group_by" in params else None
    engine = create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with AsyncSession(engine) as session:
            began = time.perf_counter()
            # As the endpoint does: a grouped answer's totals are the sums of its groups.
            await stats_service.compute(session, scope, group_by)
            return (time.perf_counter() - began) * 1000
    finally:
        await engine.dispose()


async def time_queries(session: aiohttp.ClientSession, url: str, token: str, dsn: str, merchant: uuid.UUID,
                       repeats: int, budget_s: float) -> dict[str, Any]:
    """Each query `repeats` times through the gateway, fewer when they exceed `budget_s`; at the gateway's
    timeout (504) the service's own SQL is timed once instead, and the query is marked `via: sql`."""
    headers = {"Authorization": f"Bearer {token}"}
    timings: dict[str, Any] = {}
    for name, params in queries(dt.date.today(), merchant).items():
        samples: list[float] = []
        statuses: dict[int, int] = {}
        via = "gateway"
        began_query = time.monotonic()
        while len(samples) < repeats and (not samples or time.monotonic() - began_query < budget_s):
            began = time.perf_counter()
            async with session.get(url, params=params, headers=headers) as answer:
                await answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
            if answer.status != 200:
                via = "sql"
                samples = [await direct_sql_ms(dsn, params)]
                break
            samples.append((time.perf_counter() - began) * 1000)
        samples.sort()
        timings[name] = {"p50_ms": round(percentile(samples, 0.5), 1), "p95_ms": round(percentile(samples, 0.95), 1),
                         "samples": len(samples), "via": via, "statuses": statuses}
        say(f"  {name}: {timings[name]}")
    return {**overall(timings), "queries": timings}


def overall(timings: dict[str, Any]) -> dict[str, float]:
    """A size's headline: the median query's p50 and the slowest query's p95 (queries have unequal sample counts)."""
    p50s = sorted(timing["p50_ms"] for timing in timings.values())
    return {"p50_ms": percentile(p50s, 0.5), "p95_ms": max(timing["p95_ms"] for timing in timings.values())}


def regulator_token(stack: Any) -> str:
    """A provincial regulator's token (region 630000), signed with the stack's key as the gateway would sign it."""
    from odr_runner.credentials import JWT_ISSUER
    from servicekit.auth import Audience, Role, TokenIssuer

    issuer = TokenIssuer(stack.config.secrets.jwt_private_key, JWT_ISSUER)
    return issuer.issue(sub="bench-regulator-qinghai", aud=Audience.REGULATOR, roles=[Role.REGULATOR],
                        region=PROVINCE)


async def database_size(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        return str(await connection.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    finally:
        await connection.close()


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    arguments = parse(argv)
    check_quiet()
    sizes = sorted(arguments.sizes)
    measured: list[dict[str, Any]] = []
    async with running_platform(SCENARIO) as stack, aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=120)) as session:
        dsn = asyncpg_dsn(stack, "complaints")
        demo = stack.demo_document()
        merchant_a = uuid.UUID(demo["merchants"][0]["merchant_id"])
        token = regulator_token(stack)
        url = f"{stack.url('gateway')}/v1/regulator/stats"
        loaded = 0
        for size in sizes:
            seconds = await load(dsn, demo, loaded, size, arguments.workers, stack.config.secrets.pii_key)
            say(f"{size:,} cases in the database (+{size - loaded:,} in {seconds:.0f} s); rebuilding the statistics")
            loaded = size
            rebuild_seconds = await rebuild(dsn)
            say(f"statistics rebuilt in {rebuild_seconds:.0f} s; timing queries")
            timings = await time_queries(session, url, token, dsn, merchant_a, arguments.repeats, arguments.budget)
            measured.append({"cases": size, "load_s": round(seconds, 1), "rebuild_s": round(rebuild_seconds, 1),
                             "database_size": await database_size(dsn), **timings})
    last = measured[-1]
    result = {
        "cases": last["cases"], "p50_ms": last["p50_ms"], "p95_ms": last["p95_ms"], "repeats": arguments.repeats,
        "quick": arguments.quick, "sizes": measured,
    }
    charts.save(SCENARIO, lambda figure: draw(figure, measured))
    return record(SCENARIO, result)


def draw(figure: Any, measured: list[dict[str, Any]]) -> None:
    axes = figure.subplots(1, 1)
    names = list(measured[0]["queries"])
    positions = np.arange(len(names))
    width = 0.8 / len(measured)
    for index, size in enumerate(measured):
        values = [size["queries"][name]["p95_ms"] for name in names]
        bars = axes.bar(positions + (index - (len(measured) - 1) / 2) * width, values, width=width,
                        label=f"{size['cases']:,} cases (p95)")
        for bar, name in zip(bars, names, strict=True):
            if size["queries"][name].get("via") == "sql":
                bar.set_hatch("//")
    axes.axhline(100, color="red", linewidth=0.8, linestyle="--", label="target p95 100 ms")
    axes.set_xticks(positions, names, fontsize=8)
    axes.set(ylabel="ms, GET /v1/regulator/stats", yscale="log",
             title="regulator statistics as the case table grows (hatched: the service's SQL timed directly, "
                   "the gateway gave up at 15 s)")
    axes.legend(fontsize=8)


if __name__ == "__main__":
    asyncio.run(main())
