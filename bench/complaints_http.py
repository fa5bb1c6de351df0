"""CPU of the complaints process per filing over HTTP: the service under uvicorn (one worker, as the bench stack runs
it), filings posted straight to it at a fixed rate with consumer tokens and the headers the gateway adds, the
process's user + system time from /proc/<pid>/stat divided by the cases its database gained.

    .venv/bin/python -m bench.complaints_http [--rate 60] [--seconds 20] [--jobs] [--idempotency-keys] \
        [--source DIR]

By default the service's background jobs (outbox relay, consumers, sweepers) are off, so the figure is the request
path alone; `--jobs` starts a Tansu broker and runs them all, as the stack does. `--source` serves another checkout's
complaints and servicekit (`git archive <commit> | tar -x -C DIR`), to compare commits back to back with the same
tool. Bodies are the CFPB rows the other scenarios use (half or so to two enrolled enterprises by the green channel,
the rest to unregistered businesses); it reads /proc, so PostgreSQL runs on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import asyncpg
import orjson
from fastapi import FastAPI

from bench.common import (
    DATABASE_PREFIX,
    REPO_ROOT,
    SYSTEM_POSTGRES,
    BodyRules,
    cfpb_rows,
    qinghai_counties,
    say,
)
from bench.loadgen import LoadGenerator, Request
from bench.profile import start_spy, summarise
from servicekit import infra
from servicekit.auth import Audience, Role, TokenIssuer, consumer_subject, generate_private_key_pem
from servicekit.db import asyncpg_dsn
from servicekit.testing.infra import migrated_database

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CONSUMERS = 200
BODIES = 5000
WARM_UP_SECONDS = 10.0
WARM_UP_RATE = 20.0
SUBJECT_KEY = "bench-complaints-http-subject"
PII_KEY = "bench-complaints-http-pii"
JOBS_VARIABLE = "ODR_BENCH_JOBS"
PATH_ENTRIES = ("libs/servicekit/src", "services/complaints/src", "services/merchants/src",
                "services/mediation/src", "gateway/src", "deploy/runner/src")


def served_app() -> FastAPI:
    """The uvicorn factory: the complaints app, without its background jobs unless ODR_BENCH_JOBS is set; it says
    which checkout it serves."""
    import complaints.main

    print(f"serving {complaints.main.__file__}", file=sys.stderr, flush=True)
    if not os.environ.get(JOBS_VARIABLE):
        complaints.main.background_jobs = lambda runtime, settings: {}  # type: ignore[attr-defined]
    return complaints.main.create_app()


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.complaints_http", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=60.0, help="filings a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the measured load lasts")
    parser.add_argument("--jobs", action="store_true", help="run the relay, consumers and sweepers (with a broker)")
    parser.add_argument("--idempotency-keys", action="store_true", help="send a new Idempotency-Key with each")
    parser.add_argument("--source", type=Path, default=REPO_ROOT, help="the checkout whose service is measured")
    parser.add_argument("--py-spy", metavar="PATH", help="sample the process with this py-spy during the load; the "
                                                         "collapsed stacks go to a temporary file, a summary to stderr")
    return parser.parse_args(argv)


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


async def seed_enterprises(database: str) -> list[str]:
    """Two approved ODR enterprises in complaints' replica (as merchants' events would leave them)."""
    from pydantic import SecretStr

    from complaints.consumers import merchants as merchant_events
    from complaints.settings import ComplaintsSettings
    from servicekit.contracts.merchants_v1 import EnrollmentApproved
    from servicekit.db import create_engine, create_sessionmaker

    settings = ComplaintsSettings(database_url=SYSTEM_POSTGRES, database_name=database, pii_key=SecretStr(PII_KEY),
                                  environment="test", jwt_public_key="unused")
    engine = create_engine(settings, pool_size=1)
    ids = []
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            for index, (name, uscc) in enumerate((("TransUnion 格尔木", "91632801MA7XXXXX0Q"),
                                                   ("Equifax 西宁", "91630100MA7XXXXX1R"))):
                approved = EnrollmentApproved(merchant_id=uuid.uuid4(), name=name, uscc=uscc,
                                              region_code="632801" if index == 0 else "630102",
                                              sector="finance", approved_at=dt.datetime.now(dt.UTC))
                await merchant_events.HANDLERS[approved.event_type](session, approved.envelope(source="merchants"))
                ids.append(str(approved.merchant_id))
    finally:
        await engine.dispose()
    return ids


def requests_for(merchants: list[str], issuer: TokenIssuer, idempotency_keys: bool) -> list[Request]:
    """Bodies from the CFPB rows, each with its filer's token and the headers the gateway adds (gateway/proxy.py)."""
    phones = [str(13900000000 + index) for index in range(CONSUMERS)]
    tokens = [issuer.issue(sub=consumer_subject(phone, SUBJECT_KEY), aud=Audience.CONSUMER, roles=[Role.CONSUMER])
              for phone in phones]
    rules = BodyRules(merchants[0], merchants[1], tuple(qinghai_counties()))
    today = dt.date.today()
    requests: list[Request] = []
    for index, row in enumerate(cfpb_rows(BODIES)):
        request_id = uuid.uuid4().hex
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[index % CONSUMERS]}",
                   "X-Request-Id": request_id, "X-Correlation-Id": request_id, "X-Forwarded-For": "127.0.0.1",
                   "X-Forwarded-Host": "127.0.0.1:8000", "X-Forwarded-Proto": "http"}
        if idempotency_keys:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        requests.append((orjson.dumps(rules.body(row, phones[index % CONSUMERS], today)), headers))
    return requests


@contextmanager
def broker(enabled: bool) -> Iterator[str]:
    if not enabled:
        yield "127.0.0.1:1"
        return
    from servicekit.events.kafka import ensure_topics
    from servicekit.events.topics import all_topics

    port = infra.free_port()
    child = infra.start_broker(port, Path(tempfile.mkdtemp(prefix="odr-bench-http-")) / "tansu.log")
    try:
        asyncio.run(ensure_topics(f"127.0.0.1:{port}", all_topics()))
        yield f"127.0.0.1:{port}"
    finally:
        child.stop()


@contextmanager
def service(source: Path, database: str, bootstrap: str, public_key: str, jobs: bool,
            log: Path) -> Iterator[tuple[str, int]]:
    port = infra.free_port()
    python_path = os.pathsep.join([*(str(source / entry) for entry in PATH_ENTRIES), str(REPO_ROOT)])
    env = {**os.environ, "PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1", "ODR_ENVIRONMENT": "dev",
           "ODR_SERVICE_NAME": "complaints", "ODR_DATABASE_URL": SYSTEM_POSTGRES, "ODR_DATABASE_NAME": database,
           "ODR_KAFKA_BOOTSTRAP": bootstrap, "ODR_JWT_PUBLIC_KEY": public_key, "ODR_PII_KEY": PII_KEY,
           "ODR_SUBJECT_KEY": SUBJECT_KEY, "ODR_INTERNAL_TOKEN": "bench-internal",
           "ODR_EVIDENCE_DIR": tempfile.mkdtemp(prefix="odr-bench-evidence-"), JOBS_VARIABLE: "1" if jobs else ""}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.complaints_http:served_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port),
             "--no-access-log", "--no-proxy-headers", "--workers", "1"],
            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=infra.die_with_parent)
    child = infra.ChildProcess("complaints", process)
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        child.stop()


async def wait_ready(url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/readyz") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"complaints did not get ready; see {log}")


async def cases(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        count: int = await connection.fetchval("SELECT count(*) FROM complaint")
        return count
    finally:
        await connection.close()


async def measure(arguments: argparse.Namespace, name: str, bootstrap: str) -> dict[str, Any]:
    dsn = asyncpg_dsn(SYSTEM_POSTGRES, name)
    merchants = await seed_enterprises(name)
    issuer = TokenIssuer(generate_private_key_pem(), "odr-gateway")
    requests = requests_for(merchants, issuer, arguments.idempotency_keys)
    log = Path(tempfile.mkdtemp(prefix="odr-bench-http-")) / "complaints.log"
    generator = LoadGenerator(requests)
    try:
        with service(arguments.source, name, bootstrap, issuer.public_key_pem(), arguments.jobs, log) as (url, pid):
            await wait_ready(url, log)
            target = f"{url}/v1/consumer/complaints"
            warm = await generator.step(target, min(arguments.rate, WARM_UP_RATE), WARM_UP_SECONDS)
            say(f"warm-up: {warm.summary()}")
            await asyncio.sleep(1.0)
            spy = None
            if arguments.py_spy:
                stacks = log.with_name("complaints.collapsed")
                spy = start_spy(arguments.py_spy, pid, arguments.seconds, stacks)
            filed, cpu, wall = await cases(dsn), cpu_seconds(pid), time.monotonic()
            step = await generator.step(target, arguments.rate, arguments.seconds)
            (user, system), wall = cpu_seconds(pid), time.monotonic() - wall
            user, system = user - cpu[0], system - cpu[1]
            filed = await cases(dsn) - filed
            # A probe that answers without filing is counted by its answers.
            counted = filed or step.ok
            if spy is not None:
                spy.wait(60)
                say(f"stacks in {stacks}\n" + summarise(stacks, 60))
    finally:
        generator.close()
    load = os.getloadavg()
    result = {"source": str(arguments.source), "jobs": arguments.jobs, "rate": arguments.rate,
              "filed": filed, "errors": step.errors, "cpu_ms_per_filing": 1000 * (user + system) / max(counted, 1),
              "system_ms_per_filing": 1000 * system / max(counted, 1), "process_cpu_share": (user + system) / wall,
              "p50_ms": step.p50_ms, "p99_ms": step.p99_ms, "load": load}
    say(f"{step.summary()}")
    say(next(line for line in log.read_text().splitlines() if line.startswith("serving ")))
    say(f"complaints process ({'with' if arguments.jobs else 'without'} jobs, source {arguments.source}): "
        f"{filed} filed, {result['cpu_ms_per_filing']:.2f} CPU ms per filing (system "
        f"{result['system_ms_per_filing']:.2f}) "
        f"({100 * result['process_cpu_share']:.0f} % of a core); load average {load[0]:.2f} {load[1]:.2f}")
    return result


def main(argv: list[str] | None = None) -> None:
    arguments = parse(argv)

    async def run(bootstrap: str) -> None:
        async with migrated_database(SYSTEM_POSTGRES, f"{DATABASE_PREFIX}_complaints_http", "complaints") as name:
            await measure(arguments, name, bootstrap)

    with broker(arguments.jobs) as bootstrap:
        asyncio.run(run(bootstrap))


if __name__ == "__main__":
    main()
