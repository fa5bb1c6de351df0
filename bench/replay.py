"""Replay: every CFPB complaint driven through the running platform to its final state, then the statistics checked.

Each row of the CFPB file (bench/common.py builds its body) is filed through the gateway by one of the signed-in
consumers and then acted on by the parties the row's `Company response to consumer` implies, through the same
public endpoints a consumer, an enterprise and a regulator use, until the case is final. Then
`GET /v1/regulator/stats` (the province, and grouped by merchant, channel and prefecture) must equal, figure by
figure, the counts worked out from the file; any difference fails the run ("exact": false, exit status 1).

Enrolment rule: every company (its name as written in the file) with at least ENROL_MIN_ROWS rows among the rows
replayed applies through `POST /v1/public/odr-applications` (a county of Qinghai chosen from its name, a generated
USCC, a PDF licence) and is approved by the provincial regulator (`POST /v1/regulator/odr-applications/{id}/approve`);
the client credentials it fetches through its one-time link give it a token through the gateway. Its complaints ask
for the green channel. Every other company is an unregistered respondent, named in the complaint, whose case goes to
the regulator.

Outcome by `Company response to consumer` (E: enrolled enterprise, U: unregistered respondent):
- Closed with monetary relief -> settled with the amount the consumer asked for. E: the enterprise offers a refund of
  it, the consumer accepts, the enterprise records a refund transaction and the consumer confirms it. U: the
  regulator accepts, assigns itself as mediator and records the signed mediation agreement.
- Closed with non-monetary relief -> settled without money (E: an offer of type `other`, accepted; U: as above with
  an agreement of type `other`).
- Closed with explanation / without relief -> if `Consumer disputed?` is Yes, mediation terminated on Art. 23 ground 3
  (no agreement possible): E declines to settle, the regulator accepts and terminates; U: accepted and terminated.
  Otherwise the consumer, satisfied with the explanation, withdraws (E: once the negotiation case is open).
- Untimely response -> the respondent does not take part: terminated on Art. 23 ground 2 (E declines first).
- Closed -> the regulator refuses (不予受理) on Art. 16 ground 7 (E declines first).
- In progress -> left open: E negotiating (with_merchant), U pending acceptance.
Every decision is taken at once, so every clock is met on time and `Timely response?` plays no part.

Learning when a case is ready for its next act (a mediation case opened, a complaint back with the regulator) and
when it is final is done by reading the complaints and mediation databases (two queries every WATCH_INTERVAL
seconds for all waiting cases): no endpoint lists a region's mediation cases, and polling each case through the
gateway would load the platform with the replay's own bookkeeping. Every act is an API call through the gateway.

    .venv/bin/python -m bench.replay                 # all 59,205 rows
    .venv/bin/python -m bench.replay --limit 2000    # the first 2,000 rows (the rule applies to those rows)
    .venv/bin/python -m bench.replay --quick         # the first 300 rows, a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg
import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import charts
from bench.common import (
    CFPB_CSV,
    CONSUMER_PHONE_BASE,
    BodyRules,
    asyncpg_dsn,
    cfpb_rows,
    check_quiet,
    consumer_tokens,
    merchant_token,
    percentile,
    qinghai_counties,
    record,
    running_platform,
    say,
    sign_in_consumer,
    stable_hash,
)

T = TypeVar("T")

SCENARIO = "replay"
PROVINCE = "630000"
REGULATOR_SUB = "bench-replay-regulator-qinghai"
ENROL_MIN_ROWS = 200
QUICK_ROWS = 300
# Issue 18: every row to its final state, every figure exact, within 6 minutes (the first rounds aimed at 3).
TARGET_SECONDS = 360
WATCH_INTERVAL = 0.25
# 500 too: on a shared PostgreSQL a service can be refused a connection ("too many clients"); the retries are counted.
TRANSIENT = frozenset({500, 502, 503, 504})
ATTEMPTS = 5
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LICENCE_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
GROUPINGS = ("merchant", "channel", "region")


class Plan(StrEnum):
    """Where a row's case ends, from `Company response to consumer` (and `Consumer disputed?`)."""

    SETTLE_WITH_MONEY = "settle_with_money"
    SETTLE_WITHOUT_MONEY = "settle_without_money"
    TERMINATE_NO_AGREEMENT = "terminate_ground_3"
    TERMINATE_NO_RESPONSE = "terminate_ground_2"
    WITHDRAW = "withdraw"
    REFUSE = "refuse_ground_7"
    LEAVE_OPEN = "leave_open"


SETTLEMENTS = frozenset({Plan.SETTLE_WITH_MONEY, Plan.SETTLE_WITHOUT_MONEY})
TERMINATIONS = {Plan.TERMINATE_NO_AGREEMENT: 3, Plan.TERMINATE_NO_RESPONSE: 2}
REFUSAL_GROUND = 7


def plan_of(row: dict[str, str]) -> Plan:
    response = row["Company response to consumer"]
    if response == "Closed with monetary relief":
        return Plan.SETTLE_WITH_MONEY
    if response == "Closed with non-monetary relief":
        return Plan.SETTLE_WITHOUT_MONEY
    if response in ("Closed with explanation", "Closed without relief"):
        return Plan.TERMINATE_NO_AGREEMENT if row["Consumer disputed?"] == "Yes" else Plan.WITHDRAW
    if response == "Untimely response":
        return Plan.TERMINATE_NO_RESPONSE
    if response == "Closed":
        return Plan.REFUSE
    return Plan.LEAVE_OPEN


def final_status(plan: Plan, enrolled: bool) -> str:
    """The complaint's status once the plan has run."""
    if plan in SETTLEMENTS:
        return "closed_settled"
    if plan in TERMINATIONS:
        return "closed_terminated"
    if plan is Plan.WITHDRAW:
        return "withdrawn"
    if plan is Plan.REFUSE:
        return "closed_refused"
    return "with_merchant" if enrolled else "pending_acceptance"


@dataclass
class Case:
    """One row on its way through the platform."""

    index: int
    cfpb_id: str
    plan: Plan
    body: dict[str, Any]
    consumer: int
    enterprise: int | None
    region: str
    complaint_id: str | None = None
    case_id: str | None = None
    filed_at: float | None = None
    final_at: float | None = None
    error: str | None = None

    @property
    def amount_fen(self) -> int:
        return int(self.body["request"]["amount_fen"] or 0) if self.plan is Plan.SETTLE_WITH_MONEY else 0


@dataclass(frozen=True)
class Company:
    name: str
    rows: int
    region: str
    uscc: str


def uscc_for(name: str, region: str) -> str:
    """A well-formed GB 32100-2015 code for a company (9 1) in `region`, its organisation part from the name."""
    digest = stable_hash(name)
    organisation = "".join(USCC_ALPHABET[(digest >> (5 * position)) % 31] for position in range(9))
    first_17 = "91" + region + organisation
    total = sum(USCC_ALPHABET.index(char) * pow(3, position, 31) for position, char in enumerate(first_17))
    return first_17 + USCC_ALPHABET[(31 - total % 31) % 31]


def enrolled_companies(rows: list[dict[str, str]], counties: tuple[str, ...], min_rows: int) -> list[Company]:
    """The enrolment rule: every company with at least `min_rows` of the rows, most rows first."""
    counts = Counter(row["Company"] for row in rows)
    return [Company(name, count, region, uscc_for(name, region))
            for name, count in counts.most_common() if count >= min_rows
            for region in [counties[stable_hash("enterprise " + name) % len(counties)]]]


def build_cases(rows: list[dict[str, str]], companies: list[Company], merchant_ids: list[str],
                counties: tuple[str, ...], phones: list[str], today: dt.date) -> list[Case]:
    """The bodies of bench/common.py; an enrolled company's complaints name it and ask for the green channel."""
    rules = BodyRules("", "", counties)
    position = {company.name: number for number, company in enumerate(companies)}
    cases = []
    for index, row in enumerate(rows):
        phone_index = index % len(phones)
        body = rules.body(row, phones[phone_index], today)
        enterprise = position.get(row["Company"])
        if enterprise is not None:
            body["respondent"] = {"merchant_id": merchant_ids[enterprise]}
            body["green_channel"] = True
            region = companies[enterprise].region
        else:
            # Set in full: the shared rules name demo enterprises for TransUnion and Equifax, which the replay has not.
            region = counties[stable_hash(row["State"] or "?") % len(counties)]
            body["respondent"] = {"name": row["Company"][:200] or "Unknown company", "region_code": region}
            body["green_channel"] = False
        cases.append(Case(index=index, cfpb_id=row["Complaint ID"], plan=plan_of(row),
                          body=body, consumer=phone_index, enterprise=enterprise, region=region))
    return cases


def request_body(case: Case) -> bytes:
    return orjson.dumps(case.body)


# --- the figures the file determines -------------------------------------------------------------------------------

COUNTED = ("received", "complaints", "reports", "accepted", "refused", "initial_reviews_due",
           "initial_reviews_on_time", "closed", "closed_on_time", "settled", "terminated", "recovered_fen",
           "report_verifications_due", "report_verifications_on_time")
RATES = {"on_time_initial_review_rate": ("initial_reviews_on_time", "initial_reviews_due"),
         "closure_rate": ("closed", "received"), "on_time_closure_rate": ("closed_on_time", "closed"),
         "mediation_success_rate": ("settled", "settled+terminated"),
         "on_time_report_verification_rate": ("report_verifications_on_time", "report_verifications_due")}


def expected_figures(cases: Iterable[Case]) -> dict[str, float]:
    """Every figure of the stats API as the plans make it: each decision is taken at once, so on time."""
    counts = dict.fromkeys(COUNTED, 0)
    for case in cases:
        accepted = case.plan in TERMINATIONS or (case.plan in SETTLEMENTS and case.enterprise is None)
        refused = case.plan is Plan.REFUSE
        closed = case.plan is not Plan.LEAVE_OPEN
        for name, value in (("received", 1), ("complaints", 1), ("accepted", accepted), ("refused", refused),
                            ("initial_reviews_due", accepted or refused), ("initial_reviews_on_time",
                                                                          accepted or refused),
                            ("closed", closed), ("closed_on_time", closed), ("settled", case.plan in SETTLEMENTS),
                            ("terminated", case.plan in TERMINATIONS), ("recovered_fen", case.amount_fen)):
            counts[name] += int(value)
    return {**counts, **rates_of(counts)}


def rates_of(counts: dict[str, int]) -> dict[str, float]:
    def ratio(numerator: str, denominator: str) -> float:
        below = sum(counts[name] for name in denominator.split("+"))
        return counts[numerator] / below if below else 0.0

    return {name: ratio(*parts) for name, parts in RATES.items()}


def group_key(case: Case, grouping: str, merchant_ids: list[str]) -> str | None:
    if grouping == "merchant":
        return merchant_ids[case.enterprise] if case.enterprise is not None else None
    if grouping == "channel":
        return str(case.body["channel"])
    return case.region[:4] + "00"


def differences(expected: dict[str, float], actual: dict[str, Any]) -> dict[str, tuple[float, Any]]:
    """Figures that differ: counts exactly, rates to 1e-9."""
    return {name: (value, actual.get(name)) for name, value in expected.items()
            if actual.get(name) is None or abs(float(actual[name]) - value) > (0 if name in COUNTED else 1e-9)}


# --- talking to the platform ----------------------------------------------------------------------------------------


UUID_IN_PATH = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def template(path: str) -> str:
    """The path with its ids as {id}, so that failures of one kind are counted together."""
    return UUID_IN_PATH.sub("/{id}", path)


class ReplayError(Exception):
    """An act answered something the plan does not allow: the case is marked failed and the run is not exact."""


class Api:
    """Authorised calls through the gateway: bounded concurrency, transient failures retried, expired tokens renewed."""

    def __init__(self, session: aiohttp.ClientSession, gateway: str, concurrency: int) -> None:
        self.session = session
        self.gateway = gateway
        self.slots = asyncio.Semaphore(concurrency)
        self.tokens: dict[tuple[str, int], str] = {}
        self.renew: dict[tuple[str, int], Callable[[], Awaitable[str]]] = {}
        # One renewal at a time per party: its tokens expire together for every request in flight.
        self.renewals: defaultdict[tuple[str, int], asyncio.Lock] = defaultdict(asyncio.Lock)
        self.retries: Counter[str] = Counter()
        self.calls = 0

    async def call(self, method: str, path: str, who: tuple[str, int], body: Any = None, *,
                   ok: int = 200, idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = body if isinstance(body, bytes) else orjson.dumps(body if body is not None else {})
        for attempt in range(ATTEMPTS):
            token = self.tokens[who]
            headers["Authorization"] = f"Bearer {token}"
            try:
                async with self.slots, self.session.request(method, self.gateway + path, data=data,
                                                            headers=headers) as answer:
                    self.calls += 1
                    status, content = answer.status, await answer.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                self.retries[type(error).__name__] += 1
                await asyncio.sleep(min(8.0, 2.0 ** attempt))
                continue
            if status == ok:
                return orjson.loads(content) if content else {}
            if status in TRANSIENT:
                self.retries[str(status)] += 1
                await asyncio.sleep(min(8.0, 2.0 ** attempt))
                continue
            if status == 401 and who in self.renew:
                self.retries["401"] += 1
                async with self.renewals[who]:
                    if self.tokens[who] == token:  # not renewed by another request meanwhile
                        self.tokens[who] = await self._renewed(who)
                continue
            if status == 409 and attempt > 0:
                # An earlier attempt went through before its answer was lost; the final state check decides.
                return {}
            raise ReplayError(f"{method} {template(path)} answered {status}: {content[:200].decode(errors='replace')}")
        raise ReplayError(f"{method} {template(path)} failed {ATTEMPTS} times")

    async def _renewed(self, who: tuple[str, int]) -> str:
        """A new token for `who`; a sign-in refused for now (429, 503 under load) is tried again after a pause."""
        for attempt in range(ATTEMPTS):
            try:
                return await self.renew[who]()
            except RuntimeError as refused:
                self.retries["renewal refused"] += 1
                say(f"renewing {who}: {refused}; again")
                await asyncio.sleep(min(8.0, 2.0 ** attempt))
        raise ReplayError(f"no new token for {who} after {ATTEMPTS} attempts")


class Watcher:
    """Waits on the state of many cases at once with two queries per round, one per database."""

    def __init__(self, complaints_dsn: str, mediation_dsn: str, timeout: float) -> None:
        self.dsns = {"complaints": complaints_dsn, "mediation": mediation_dsn}
        self.connections: dict[str, asyncpg.Connection] = {}
        self.timeout = timeout
        self.complaint_waits: dict[str, list[tuple[frozenset[str], asyncio.Future[None]]]] = {}
        self.case_waits: dict[str, list[tuple[frozenset[str], asyncio.Future[str]]]] = {}

    async def complaint_status(self, complaint_id: str, *statuses: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.complaint_waits.setdefault(complaint_id, []).append((frozenset(statuses), future))
        await self._within(future, f"complaint never became {'/'.join(statuses)}")

    async def mediation_case(self, complaint_id: str, *statuses: str) -> str:
        """The id of the complaint's mediation case once it has one of `statuses`."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.case_waits.setdefault(complaint_id, []).append((frozenset(statuses), future))
        return str(await self._within(future, f"mediation case never became {'/'.join(statuses)}"))

    async def _within(self, future: asyncio.Future[Any], failure: str) -> Any:
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise ReplayError(f"{failure} within {self.timeout:.0f} s") from None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self._round()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                    # The shared server restarted or refused us: connect again next round, the waits stay.
                    say(f"watcher: {error!r}; reconnecting")
                    await self.close()
                await asyncio.sleep(WATCH_INTERVAL)
        finally:
            await self.close()

    async def close(self) -> None:
        connections, self.connections = self.connections, {}
        for connection in connections.values():
            connection.terminate()

    async def _fetch(self, database: str, query: str, ids: list[str]) -> list[asyncpg.Record]:
        if database not in self.connections:
            self.connections[database] = await asyncpg.connect(self.dsns[database])
        return list(await self.connections[database].fetch(query, ids))

    async def _round(self) -> None:
        self._forget_abandoned()
        if self.complaint_waits:
            rows = await self._fetch("complaints", "SELECT id::text, status FROM complaint WHERE id = ANY($1::uuid[])",
                                     list(self.complaint_waits))
            for row in rows:
                self._resolve(self.complaint_waits, row["id"], row["status"], None)
        if self.case_waits:
            rows = await self._fetch(
                "mediation",
                "SELECT complaint_id::text, id::text, status FROM mediation_case WHERE complaint_id = ANY($1::uuid[])",
                list(self.case_waits))
            for row in rows:
                self._resolve(self.case_waits, row["complaint_id"], row["status"], row["id"])

    @staticmethod
    def _resolve(waits: dict[str, list[Any]], key: str, status: str, value: Any) -> None:
        remaining = []
        for statuses, future in waits.get(key, []):
            if status in statuses and not future.done():
                future.set_result(value)
            elif not future.done():
                remaining.append((statuses, future))
        if remaining:
            waits[key] = remaining
        else:
            waits.pop(key, None)

    def _forget_abandoned(self) -> None:
        for waits in (self.complaint_waits, self.case_waits):
            for key in [key for key, entries in waits.items() if all(future.done() for _, future in entries)]:
                del waits[key]


CONSUMER, ENTERPRISE, REGULATOR = "consumer", "enterprise", "regulator"


@dataclass
class Replay:
    api: Api
    watcher: Watcher
    today: dt.date
    finished: int = 0
    filed: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def fulfil_by(self) -> str:
        return (self.today + dt.timedelta(days=3)).isoformat()

    async def drive(self, case: Case) -> None:
        try:
            await self._drive(case)
            case.final_at = time.monotonic()
            self.finished += 1
        except Exception as error:  # a case that cannot finish is a measured outcome, never the end of the run
            case.error = f"{type(error).__name__}: {error}"
            self.errors[case.error[:120]] += 1

    async def _drive(self, case: Case) -> None:
        filed = await self.api.call("POST", "/v1/consumer/complaints", (CONSUMER, case.consumer), request_body(case),
                                    ok=201, idempotency_key=f"cfpb-{case.cfpb_id}")
        case.complaint_id, case.filed_at = str(filed["id"]), time.monotonic()
        self.filed += 1
        enrolled = case.enterprise is not None
        expected_on_filing = "with_merchant" if enrolled else "pending_acceptance"
        if filed["status"] != expected_on_filing:
            raise ReplayError(f"filed as {filed['status']}, not {expected_on_filing}")
        if enrolled:
            await self._with_enterprise(case, case.complaint_id)
        else:
            await self._with_regulator(case, case.complaint_id)
        if case.plan is Plan.WITHDRAW:
            await self.api.call("POST", f"/v1/consumer/complaints/{case.complaint_id}/withdraw",
                                (CONSUMER, case.consumer))
        await self.watcher.complaint_status(case.complaint_id, final_status(case.plan, enrolled))

    def _terms(self, case: Case) -> dict[str, Any]:
        money = case.plan is Plan.SETTLE_WITH_MONEY
        return {**({"type": "refund", "amount_fen": case.amount_fen} if money
                   else {"type": "other", "note": "更正信用报告并书面致歉"}), "fulfil_by": self.fulfil_by()}

    async def _with_enterprise(self, case: Case, complaint_id: str) -> None:
        """Negotiation first; a case the enterprise declines goes to the regulator."""
        api, consumer, enterprise = self.api, (CONSUMER, case.consumer), (ENTERPRISE, case.enterprise or 0)
        case.case_id = await self.watcher.mediation_case(complaint_id, "negotiating")
        merchant_case, consumer_case = f"/v1/merchant/cases/{case.case_id}", f"/v1/consumer/cases/{case.case_id}"
        if case.plan in SETTLEMENTS:
            offer = await api.call("POST", f"{merchant_case}/offers", enterprise, self._terms(case), ok=201)
            await api.call("POST", f"{consumer_case}/offers/{offer['id']}/accept", consumer)
            if case.plan is Plan.SETTLE_WITH_MONEY:
                proof = await api.call("POST", f"{merchant_case}/fulfilment", enterprise,
                                       {"kind": "refund_txn", "reference": f"REFUND-{case.cfpb_id}"}, ok=201)
                await api.call("POST", f"{consumer_case}/fulfilment/{proof['id']}/confirm", consumer)
        elif case.plan in TERMINATIONS or case.plan is Plan.REFUSE:
            await api.call("POST", f"{merchant_case}/decline", enterprise, {"note": "企业不同意和解"})
            await self.watcher.complaint_status(complaint_id, "pending_acceptance")
            await self._with_regulator(case, complaint_id)

    async def _with_regulator(self, case: Case, complaint_id: str) -> None:
        """Refuse, or accept and mediate: terminate, or assign itself as mediator and record the agreement."""
        api, regulator, complaint = self.api, (REGULATOR, 0), f"/v1/regulator/complaints/{complaint_id}"
        if case.plan is Plan.REFUSE:
            await api.call("POST", f"{complaint}/refuse", regulator, {"ground": REFUSAL_GROUND, "note": "依法不予受理"})
            return
        if case.plan not in TERMINATIONS and case.plan not in SETTLEMENTS:
            return
        await api.call("POST", f"{complaint}/accept", regulator)
        case.case_id = await self.watcher.mediation_case(complaint_id, "mediating")
        mediation = f"/v1/regulator/cases/{case.case_id}"
        if case.plan in TERMINATIONS:
            await api.call("POST", f"{mediation}/terminate", regulator,
                           {"ground": TERMINATIONS[case.plan], "note": "终止调解"})
            return
        await api.call("POST", f"{mediation}/assign", regulator,
                       {"mediator_kind": "regulator_staff", "mediator_id": REGULATOR_SUB, "mediator_region": PROVINCE})
        signed = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)).isoformat()
        await api.call("POST", f"{mediation}/agreement", regulator,
                       {**self._terms(case), "document_no": f"QHTJ-{case.cfpb_id}", "consumer_consent_at": signed,
                        "enterprise_consent_at": signed}, ok=201)


# --- set-up: enterprises, tokens -----------------------------------------------------------------------------------


def regulator_token(stack: Any) -> str:
    """A provincial regulator (630000), signed with the stack's key as the gateway would sign it."""
    from odr_runner.credentials import JWT_ISSUER
    from servicekit.auth import Audience, Role, TokenIssuer

    issuer = TokenIssuer(stack.config.secrets.jwt_private_key, JWT_ISSUER)
    return issuer.issue(sub=REGULATOR_SUB, aud=Audience.REGULATOR, roles=[Role.REGULATOR], region=PROVINCE,
                        ttl=dt.timedelta(hours=12))


def application(company: Company, number: int) -> dict[str, Any]:
    return {
        "name": company.name[:200], "uscc": company.uscc, "region_code": company.region,
        "address": f"青海省西宁市城西区五四西路{number + 1}号", "sector": "finance", "online_stores": [],
        "contact": {"name": "客服经理", "phone": f"1399800{number:04d}"}, "undertaking_accepted": True,
        "business_licence": {"filename": "营业执照.pdf", "content_base64": base64.b64encode(LICENCE_PDF).decode()},
        "criteria": {
            "handling_place": "青海省西宁市城西区五四西路客服中心", "complaint_staff_count": 5,
            "complaint_phone": "0971-6100000", "networked_computer": True,
            "handling_procedures": "收到投诉后二十四小时内联系消费者，七日内提出处理方案，处理结果登记归档备查。",
            "cooperates_with_regulators": True,
        },
    }


async def enrol(session: aiohttp.ClientSession, gateway: str, regulator: str,
                companies: list[Company]) -> list[dict[str, Any]]:
    """Apply and approve each enterprise through the API; [{merchant_id, client_id, client_secret}]."""
    approved = []
    headers = {"Authorization": f"Bearer {regulator}"}
    for number, company in enumerate(companies):
        async with session.post(f"{gateway}/v1/public/odr-applications", json=application(company, number)) as answer:
            if answer.status != 201:
                raise SystemExit(f"application of {company.name} answered {answer.status}: {await answer.text()}")
            created = await answer.json()
        application_id = created["id"]
        async with session.post(f"{gateway}/v1/regulator/odr-applications/{application_id}/approve",
                                json={"reason": "材料齐全，符合条件"}, headers=headers) as answer:
            if answer.status != 200:
                raise SystemExit(f"approval of {company.name} answered {answer.status}: {await answer.text()}")
        # The credentials reach the applicant, not the regulator: through the one-time link in its status.
        async with session.get(f"{gateway}/v1/public/odr-applications/{application_id}/status",
                               headers={"X-Application-Token": created["status_token"]}) as answer:
            link = (await answer.json())["credentials"]
        async with session.post(f"{gateway}{link['url']}", json={"retrieval_token": link["retrieval_token"]}) as answer:
            if answer.status != 200:
                raise SystemExit(f"credentials of {company.name} answered {answer.status}: {await answer.text()}")
            approved.append(await answer.json())
    return approved


# --- the run --------------------------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="replay only the first N rows (default: all)")
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK_ROWS} rows: a smoke run")
    parser.add_argument("--enrol-min-rows", type=int, default=ENROL_MIN_ROWS,
                        help=f"companies with at least this many rows enrol (default {ENROL_MIN_ROWS}; scaled by "
                             "limit / all rows for a partial run, at least 2)")
    parser.add_argument("--consumers", type=int, default=200, help="signed-in consumers filing (default 200)")
    parser.add_argument("--concurrency", type=int, default=48, help="requests in flight at once (default 48)")
    parser.add_argument("--window", type=int, default=1000, help="unfinished cases at once (default 1000)")
    parser.add_argument("--case-timeout", type=float, default=900.0,
                        help="seconds a case may wait for the platform at one step (default 900)")
    arguments = parser.parse_args(argv)
    if arguments.quick and arguments.limit is None:
        arguments.limit = QUICK_ROWS
    return arguments


ALL_ROWS = 59_205


def scaled_threshold(minimum: int, rows: int) -> int:
    """The rule keeps its share of enterprises on a partial run: >= 200 of 59,205 becomes >= 7 of 2,000."""
    return max(2, round(minimum * rows / ALL_ROWS))


async def progress(replay: Replay, total: int, began: float, samples: list[tuple[float, int, int]],
                   stop: asyncio.Event) -> None:
    last_said = began
    while not stop.is_set():
        now = time.monotonic()
        samples.append((round(now - began, 1), replay.filed, replay.finished))
        if now - last_said >= 15:
            last_said = now
            say(f"replay {now - began:.0f} s: filed {replay.filed:,}/{total:,}, final {replay.finished:,}, "
                f"failed {sum(replay.errors.values()):,}, calls {replay.api.calls:,}, waiting "
                f"{len(replay.watcher.complaint_waits) + len(replay.watcher.case_waits):,}")
        await asyncio.sleep(1.0)


async def statistics(session: aiohttp.ClientSession, gateway: str, regulator: str, period: tuple[dt.date, dt.date],
                     group_by: str | None) -> dict[str, Any]:
    query = {"region": PROVINCE, "from": period[0].isoformat(), "to": period[1].isoformat(),
             **({"group_by": group_by} if group_by else {})}
    async with session.get(f"{gateway}/v1/regulator/stats", params=query,
                           headers={"Authorization": f"Bearer {regulator}"},
                           timeout=aiohttp.ClientTimeout(total=120)) as answer:
        if answer.status != 200:
            raise SystemExit(f"GET /v1/regulator/stats answered {answer.status}: {await answer.text()}")
        return dict(await answer.json())


def seconds_to_final(cases: list[Case]) -> dict[str, dict[str, float]]:
    """Per plan and party: p50 / p95 / max seconds from the 201 of the filing to the final status."""
    spans: dict[str, list[float]] = {}
    for case in cases:
        if case.filed_at is not None and case.final_at is not None:
            label = f"{case.plan.value} ({'enterprise' if case.enterprise is not None else 'regulator'})"
            spans.setdefault(label, []).append(case.final_at - case.filed_at)
    return {label: {"p50": round(percentile(sorted(values), 0.5), 1), "p95": round(percentile(sorted(values), 0.95), 1),
                    "max": round(max(values), 1)} for label, values in sorted(spans.items())}


def check(cases: list[Case], merchant_ids: list[str], totals: dict[str, Any],
          grouped: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every figure of the province and of each group against the file's counts."""
    expected = expected_figures(cases)
    figures = [{"figure": name, "expected": value, "api": totals.get(name), "match": name not in wrong}
               for wrong in [differences(expected, totals)] for name, value in expected.items()]
    groups: dict[str, Any] = {}
    for grouping, answer in grouped.items():
        by_key: dict[str | None, list[Case]] = {}
        for case in cases:
            by_key.setdefault(group_key(case, grouping, merchant_ids), []).append(case)
        actual = {group["key"]: group for group in answer.get("groups") or []}
        mismatches = {str(key): {name: list(pair) for name, pair in wrong.items()}
                      for key in set(by_key) | set(actual)
                      for wrong in [differences(expected_figures(by_key.get(key, [])), actual.get(key, {}))]
                      if wrong}
        groups[grouping] = {"groups": len(by_key), "groups_api": len(actual), "mismatches": mismatches}
    exact = all(item["match"] for item in figures) and not any(group["mismatches"] for group in groups.values())
    return {"exact": exact, "figures": figures, "groups": groups}


async def again_if_dropped(step: Callable[[], Awaitable[T]], what: str) -> T:
    """A set-up step once more when the gateway closed an idle pooled connection under the request."""
    for attempt in range(ATTEMPTS - 1):
        try:
            return await step()
        except aiohttp.ClientConnectionError as error:
            say(f"{what}: {error!r}; again")
            await asyncio.sleep(1.0 + attempt)
    return await step()


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    arguments = parse(argv)
    check_quiet()
    rows = list(cfpb_rows(arguments.limit))
    threshold = (arguments.enrol_min_rows if arguments.limit is None
                 else scaled_threshold(arguments.enrol_min_rows, len(rows)))
    counties = tuple(qinghai_counties())
    companies = enrolled_companies(rows, counties, threshold)
    say(f"{len(rows):,} rows of {CFPB_CSV.name}; {len(companies)} companies with >= {threshold} rows enrol "
        f"({sum(company.rows for company in companies):,} rows)")
    async with running_platform(SCENARIO) as stack, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=arguments.concurrency * 2),
            timeout=aiohttp.ClientTimeout(total=60)) as session:
        gateway = stack.url("gateway")
        regulator = regulator_token(stack)
        approved = await enrol(session, gateway, regulator, companies)
        pending = await stack.wait_settled(within=60)
        if pending:
            raise SystemExit(f"enrolments still in flight: {pending}")
        merchant_ids = [str(item["merchant_id"]) for item in approved]
        tokens = await again_if_dropped(lambda: consumer_tokens(session, gateway, arguments.consumers),
                                        "consumer sign-in")
        from servicekit.calendar import local_date
        from servicekit.db import utcnow

        first_day = local_date(utcnow())
        cases = build_cases(rows, companies, merchant_ids, counties, [phone for phone, _ in tokens], first_day)
        api = Api(session, gateway, arguments.concurrency)
        api.tokens[(REGULATOR, 0)] = regulator
        for number, (_, token) in enumerate(tokens):
            api.tokens[(CONSUMER, number)] = token
            api.renew[(CONSUMER, number)] = _renew_consumer(session, gateway, number)
        for number, item in enumerate(approved):
            credentials = {"client_id": item["client_id"], "client_secret": item["client_secret"]}
            api.renew[(ENTERPRISE, number)] = _renew_enterprise(session, gateway, credentials)
            api.tokens[(ENTERPRISE, number)] = await again_if_dropped(api.renew[(ENTERPRISE, number)],
                                                                      "enterprise token")
        watcher = Watcher(asyncpg_dsn(stack, "complaints"), asyncpg_dsn(stack, "mediation"), arguments.case_timeout)
        replay = Replay(api, watcher, first_day)
        stop = asyncio.Event()
        samples: list[tuple[float, int, int]] = []
        began = time.monotonic()
        background = [asyncio.create_task(watcher.run(stop)),
                      asyncio.create_task(progress(replay, len(cases), began, samples, stop))]
        window = asyncio.Semaphore(arguments.window)

        async def lifecycle(case: Case) -> None:
            try:
                await replay.drive(case)
            finally:
                window.release()

        drivers = []
        for case in cases:
            await window.acquire()
            drivers.append(asyncio.create_task(lifecycle(case)))
        await asyncio.gather(*drivers)
        wall = time.monotonic() - began
        stop.set()
        await asyncio.gather(*background)
        samples.append((round(wall, 1), replay.filed, replay.finished))
        period = (first_day, local_date(utcnow()))
        totals = await statistics(session, gateway, regulator, period, None)
        grouped = {grouping: await statistics(session, gateway, regulator, period, grouping)
                   for grouping in GROUPINGS}
    verdict = check(cases, merchant_ids, totals, grouped)
    failed = [case for case in cases if case.error]
    verdict["exact"] = verdict["exact"] and not failed
    filed = [case.filed_at for case in cases if case.filed_at is not None]
    result = {
        "rows": len(cases), "limit": arguments.limit, "quick": arguments.quick, "exact": verdict["exact"],
        "wall_s": round(wall, 1), "cases_per_s": round(len(cases) / wall, 1),
        "filing_s": round(max(filed, default=began) - began, 1),
        "filed_per_s": round(len(filed) / max(max(filed, default=began) - began, 1e-9), 1),
        "full_run_estimate_s": round(wall * ALL_ROWS / len(cases)),
        "target_s": TARGET_SECONDS, "concurrency": arguments.concurrency, "consumers": arguments.consumers,
        "api_calls": api.calls, "retries": dict(api.retries),
        "enrolment": {"rule": f"companies with >= {threshold} rows", "enterprises": len(companies),
                      "rows": sum(company.rows for company in companies),
                      "companies": [{"name": company.name, "rows": company.rows, "region": company.region}
                                    for company in companies]},
        "plans": {f"{plan.value} ({'enterprise' if enrolled else 'regulator'})": count
                  for (plan, enrolled), count in sorted(Counter((case.plan, case.enterprise is not None)
                                                                for case in cases).items())},
        "seconds_to_final": seconds_to_final(cases),
        "failed_cases": len(failed), "failures": dict(replay.errors.most_common(10)),
        "period": [day.isoformat() for day in period],
        **verdict, "progress": samples[:: max(1, len(samples) // 200)],
    }
    charts.save(SCENARIO, lambda figure: draw(figure, result))
    recorded = record(SCENARIO, result)
    if not verdict["exact"]:
        say("replay NOT exact: " + ", ".join(item["figure"] for item in verdict["figures"] if not item["match"])
            + f"; group mismatches { {name: len(group['mismatches']) for name, group in verdict['groups'].items()} }"
            + f"; failed cases {len(failed)}")
    return recorded


def _renew_consumer(session: aiohttp.ClientSession, gateway: str, number: int) -> Callable[[], Awaitable[str]]:
    """A fresh token for consumer `number` (consumer tokens live 15 minutes; a full run takes longer)."""

    async def renew() -> str:
        _, token = await sign_in_consumer(session, gateway, str(CONSUMER_PHONE_BASE + number))
        return token

    return renew


def _renew_enterprise(session: aiohttp.ClientSession, gateway: str,
                      credentials: dict[str, str]) -> Callable[[], Awaitable[str]]:
    async def renew() -> str:
        return await merchant_token(session, gateway, credentials)

    return renew


def draw(figure: Any, result: dict[str, Any]) -> None:
    axes = figure.subplots(1, 1)
    seconds = [sample[0] for sample in result["progress"]]
    axes.plot(seconds, [sample[1] for sample in result["progress"]], label="filed")
    axes.plot(seconds, [sample[2] for sample in result["progress"]], label="final")
    # The target, 59,205 rows in TARGET_SECONDS, as a pace: the line a run on target would stay above.
    pace = ALL_ROWS / result["target_s"]
    until = min(seconds[-1] if seconds else 0.0, result["rows"] / pace)
    axes.plot([0, until], [0, until * pace], color="red", linewidth=0.8, linestyle="--",
              label=f"target pace ({pace:.0f} cases/s)")
    axes.set(xlabel="seconds since the first filing", ylabel="cases",
             title=f"replay of {result['rows']:,} CFPB rows: {result['cases_per_s']} cases/s, "
                   f"exact: {result['exact']}")
    axes.legend(fontsize=8)


if __name__ == "__main__":
    from bench.common import use_uvloop

    use_uvloop()
    outcome = asyncio.run(main())
    sys.exit(0 if outcome["exact"] else 1)
