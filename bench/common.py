"""What every scenario shares: a platform on free ports, consumer tokens, CFPB-derived bodies, results and charts."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from servicekit.testing import cfpb

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
# Committed with the repository (data/cfpb/README.md: provenance, row count, checksum).
CFPB_CSV = cfpb.CFPB_CSV
SYSTEM_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# Two runs on one server at once (two checkouts) each need their own: ODR_BENCH_DATABASE_PREFIX tells them apart.
DATABASE_PREFIX = os.environ.get("ODR_BENCH_DATABASE_PREFIX", "odr_bench")
CONSUMER_PHONE_BASE = 13900000000

# The platform's defaults are for people: 30 sign-ins a minute per address. The load generator signs in a pool of
# consumers from one address, so the bench stack lifts that edge limit (and allows webhooks to reach loopback). The
# replay enrols its enterprises from one address too: ODR applications (5 at once, then 20 an hour) are lifted alike,
# and so are the text-message limits on sign-in codes (per number and per address).
BENCH_ENV = {
    "ODR_AUTH_RATE_PER_MINUTE": "1000000",
    "ODR_AUTH_RATE_BURST": "100000",
    "ODR_SMS_CODE_INTERVAL_SECONDS": "0",
    "ODR_SMS_CODES_PER_PHONE_PER_HOUR": "1000000",
    "ODR_SMS_CODES_PER_PHONE_PER_DAY": "1000000",
    "ODR_SMS_CODES_PER_ADDRESS_PER_HOUR": "1000000",
    "ODR_APPLICATIONS_BURST": "1000",
    "ODR_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
}


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def use_uvloop() -> None:
    """uvloop for the generator's own event loop: it spends less of the shared CPU per request."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def system_postgres_reachable() -> bool:
    from servicekit import infra

    return infra.port_open("127.0.0.1", 5432)


@contextlib.asynccontextmanager
async def running_platform(tag: str, workers: dict[str, int] | None = None) -> AsyncIterator[Any]:
    """The whole platform (odr_runner's Stack) on free ports, with databases `odr_bench_<tag>_*` dropped afterwards;
    `workers` gives uvicorn worker processes per process name (default one each)."""
    from odr_runner.credentials import StackSecrets
    from odr_runner.stack import Ports, Stack, StackConfig
    from servicekit import infra

    os.environ.update(BENCH_ENV)
    work_dir = Path(tempfile.mkdtemp(prefix=f"odr-bench-{tag}-"))
    config = StackConfig(
        repo_root=REPO_ROOT,
        work_dir=work_dir,
        secrets=StackSecrets.generate(),
        ports=Ports.free(),
        database_url=SYSTEM_POSTGRES if system_postgres_reachable() else None,
        kafka_bootstrap=None,
        embedded_pg_port=infra.free_port(),
        embedded_kafka_port=infra.free_port(),
        database_prefix=f"{DATABASE_PREFIX}_{tag}",
        fresh_databases=True,
        environment="dev",
        workers=workers or {},
    )
    stack = Stack(config, report=say)
    began = time.monotonic()
    await stack.start()
    say(f"platform up in {time.monotonic() - began:.1f} s (logs in {config.log_dir})")
    try:
        yield stack
    finally:
        stack.stop()
        if config.database_url:
            await stack.drop_databases()


def asyncpg_dsn(stack: Any, service: str) -> str:
    """asyncpg DSN of one service's database in the running stack."""
    from servicekit.db import asyncpg_dsn as dsn_of

    return dsn_of(stack.database_url, stack.config.database_name(service))


async def consumer_tokens(session: aiohttp.ClientSession, gateway: str, count: int) -> list[tuple[str, str]]:
    """[(phone, access token)] for `count` consumers, each signed in by /auth/otp then /auth/token (dev codes)."""
    phones = [str(CONSUMER_PHONE_BASE + index) for index in range(count)]
    tokens: list[tuple[str, str]] = []
    for start in range(0, count, 50):
        tokens += await asyncio.gather(*(sign_in_consumer(session, gateway, phone)
                                         for phone in phones[start:start + 50]))
    return tokens


async def sign_in_consumer(session: aiohttp.ClientSession, gateway: str, phone: str) -> tuple[str, str]:
    """(phone, access token) of one consumer; RuntimeError when the platform refuses."""
    async with session.post(f"{gateway}/auth/otp", json={"phone": phone}) as answer:
        if answer.status != 202:
            raise RuntimeError(f"/auth/otp answered {answer.status}: {await answer.text()}")
        code = (await answer.json())["dev_code"]
    form = {"grant_type": "otp", "phone": phone, "code": code}
    async with session.post(f"{gateway}/auth/token", data=form) as answer:
        if answer.status != 200:
            raise RuntimeError(f"/auth/token answered {answer.status}: {await answer.text()}")
        return phone, str((await answer.json())["access_token"])


async def merchant_token(session: aiohttp.ClientSession, gateway: str, merchant: dict[str, Any]) -> str:
    """An enterprise token by the client-credentials grant."""
    form = {"grant_type": "client_credentials", "client_id": merchant["client_id"],
            "client_secret": merchant["client_secret"]}
    async with session.post(f"{gateway}/auth/token", data=form) as answer:
        if answer.status != 200:
            raise RuntimeError(f"/auth/token answered {answer.status}: {await answer.text()}")
        return str((await answer.json())["access_token"])


# --- CFPB rows -> complaint bodies -------------------------------------------------------------------------------

CATEGORY_BY_PRODUCT = (
    ("credit reporting", "finance.credit_reporting"),
    ("debt collection", "finance.debt_collection"),
    ("mortgage", "finance.mortgage"),
    ("credit card", "finance.credit_card"),
    ("prepaid card", "finance.payment"),
    ("money transfer", "finance.payment"),
    ("virtual currency", "finance.payment"),
    ("bank account", "finance.bank_account"),
    ("checking or savings", "finance.bank_account"),
    ("loan", "finance.consumer_loan"),
)
CHANNEL_BY_SUBMISSION = {"Web": "web", "Phone": "hotline", "Referral": "transfer_12345", "Postal mail": "station",
                         "Fax": "station"}
REQUEST_BY_RESPONSE = {"Closed with monetary relief": "refund", "Closed with non-monetary relief": "other"}


def qinghai_counties() -> list[str]:
    """Every county-level GB/T 2260 code of Qinghai (63xxxx), where unregistered respondents are placed."""
    from servicekit import regions

    def leaves(code: str) -> list[str]:
        found: list[str] = []
        for child in regions.children(code):
            found += leaves(child.code) if regions.children(child.code) else [child.code]
        return found

    return leaves("630000")


def company_key(company: str) -> str:
    """A stable key across the file's name styles (`Equifax` vs `EQUIFAX, INC.`)."""
    word = company.upper().replace(",", " ").replace(".", " ").split()
    return word[0] if word else ""


def cfpb_rows(limit: int | None = None) -> Iterator[dict[str, str]]:
    """The CFPB rows in file order, the file's checksum verified first: runs compare only on the same rows."""
    return cfpb.rows(limit)


def stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class BodyRules:
    """The documented mapping of a CFPB row onto a complaint (README: "How bodies are built")."""

    merchant_a: str
    merchant_b: str
    counties: tuple[str, ...]

    def category(self, product: str) -> str:
        lowered = product.lower()
        return next((category for needle, category in CATEGORY_BY_PRODUCT if needle in lowered), "finance.other")

    def body(self, row: dict[str, str], phone: str, today: dt.date) -> dict[str, Any]:
        """TransUnion -> demo enterprise A, Equifax -> demo enterprise B (green channel), others unregistered."""
        company = row["Company"] or "Unknown company"
        key = company_key(company)
        digest = stable_hash(row["Complaint ID"] + company)
        enterprise = {"TRANSUNION": self.merchant_a, "EQUIFAX": self.merchant_b}.get(key)
        if enterprise is not None:
            respondent: dict[str, Any] = {"merchant_id": enterprise}
        else:
            region = self.counties[stable_hash(row["State"] or "?") % len(self.counties)]
            respondent = {"name": company[:200], "region_code": region}
        narrative = row["Consumer complaint narrative"].replace("XXXX", "").strip()
        facts = " / ".join(part for part in (row["Product"], row["Sub-product"], row["Issue"], row["Sub-issue"])
                           if part)
        if narrative:
            facts += ". " + narrative[:900]
        request_type = REQUEST_BY_RESPONSE.get(row["Company response to consumer"], "compensation")
        amount = 1000 + digest % 500_000
        return {
            "kind": "complaint",
            "green_channel": enterprise is not None,
            "complainant": {"name": f"消费者{phone[-4:]}", "phone": phone,
                            "address": f"青海省格尔木市昆仑中路{digest % 200 + 1}号"},
            "respondent": respondent,
            "request": {"type": request_type, "amount_fen": amount if request_type != "other" else None},
            "facts": facts[:5000],
            "purchase": {"date": (today - dt.timedelta(days=1 + digest % 60)).isoformat(), "amount_fen": amount,
                         "order_no": f"CFPB{row['Complaint ID']}"},
            "sector": "finance",
            "category": self.category(row["Product"]),
            "channel": CHANNEL_BY_SUBMISSION.get(row["Submitted via"], "app"),
        }


def build_bodies(demo: dict[str, Any], phones: list[str], count: int) -> list[bytes]:
    """`count` encoded bodies from the first CFPB rows, the i-th filed by phones[i % len(phones)]."""
    merchants = demo["merchants"]
    rules = BodyRules(merchants[0]["merchant_id"], merchants[1]["merchant_id"], tuple(qinghai_counties()))
    today = dt.date.today()
    return [orjson.dumps(rules.body(row, phones[index % len(phones)], today))
            for index, row in enumerate(cfpb_rows(count))]


# --- results ---------------------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@dataclass(frozen=True)
class CpuTimes:
    """The machine's CPU time so far (/proc/stat, in clock ticks): what ran, what the hypervisor took, in all."""

    busy: int
    steal: int
    total: int

    @classmethod
    def now(cls) -> CpuTimes | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            # cpu  user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
            ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
            return cls(busy=ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6], steal=ticks[7], total=sum(ticks))
        return None

    def percent_since(self, earlier: CpuTimes) -> tuple[float, float]:
        """Busy and stolen shares of all the CPU time between `earlier` and this."""
        elapsed = max(self.total - earlier.total, 1)
        return (round(100 * (self.busy - earlier.busy) / elapsed, 1),
                round(100 * (self.steal - earlier.steal) / elapsed, 1))


QUIET_PROBE_SECONDS = 3.0
QUIET_BUSY_PERCENT = 10.0
_run_context: dict[str, Any] = {}


def check_quiet() -> None:
    """Before a scenario: how busy the machine was with other work, kept with the result and warned about.

    The numbers here are CPU-bound on two cores: another program using a core halves them (a run of 2026-11-28
    recorded 60 filings/s on a machine later found busy; 140/s on a quiet one), so a result says what it ran beside.
    """
    before = CpuTimes.now()
    time.sleep(QUIET_PROBE_SECONDS)
    after = CpuTimes.now()
    if before is None or after is None:
        return
    busy, steal = after.percent_since(before)
    _run_context.update(busy_before_pct=busy, steal_before_pct=steal, run_started=after)
    if busy + steal > QUIET_BUSY_PERCENT:
        say(f"WARNING: the machine is not quiet: {busy:.0f}% of its CPU busy and {steal:.0f}% stolen by the "
            f"hypervisor in the {QUIET_PROBE_SECONDS:.0f} s before this run; its numbers will be low")


def machine() -> dict[str, Any]:
    """Cores, memory (from /proc), load when the run ended and how busy the machine was before and during the run
    (`check_quiet`): the context every number needs."""
    memory_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    context: dict[str, Any] = {"cores": os.cpu_count(), "memory_gib": round(memory_kib / 1024 / 1024, 1),
                               "cpu": cpu, "load_1m": round(os.getloadavg()[0], 2)}
    started, ended = _run_context.get("run_started"), CpuTimes.now()
    if started is not None and ended is not None:
        busy, steal = ended.percent_since(started)
        context |= {"busy_before_pct": _run_context["busy_before_pct"],
                    "steal_before_pct": _run_context["steal_before_pct"], "busy_during_pct": busy,
                    "steal_during_pct": steal}
    return context


def _without_nan(value: Any) -> Any:
    """NaN (a percentile of nothing) becomes null: JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    return value


def record(scenario: str, result: dict[str, Any]) -> dict[str, Any]:
    """Stamp the result, append it to results/<scenario>.jsonl and print it as the final line."""
    line = {"scenario": scenario, **result,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "commit": git_commit(),
            "machine": machine()}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    encoded = json.dumps(_without_nan(line), ensure_ascii=False, allow_nan=False)
    with (RESULTS_DIR / f"{scenario}.jsonl").open("a", encoding="utf-8") as file:
        file.write(encoded + "\n")
    from bench.report import update_readme

    update_readme()
    print(encoded, flush=True)
    return line
