"""The whole platform as child processes: PostgreSQL, broker, migrations, topics, seed, services, gateway.

One `Stack` serves both `python -m odr_runner run` (embedded infrastructure, fixed ports) and the end-to-end
tests (the test session's PostgreSQL, free ports, databases with a per-session prefix).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import NullPool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from odr_runner.credentials import StackSecrets
from servicekit import infra
from servicekit.db import asyncpg_dsn, new_metadata, utcnow
from servicekit.events.kafka import ensure_topics
from servicekit.events.relay import requeue_published
from servicekit.events.tables import outbox_table
from servicekit.events.topics import CONSUMER_GROUPS, TOPICS, all_topics
from servicekit.settings import ServiceSettings

SERVICES = ("complaints", "merchants", "mediation")
GATEWAY = "gateway"
APPS = {
    "complaints": "complaints.main:create_app",
    "merchants": "merchants.main:create_app",
    "mediation": "mediation.main:create_app",
    GATEWAY: "gateway.main:create_app",
}
DEMO_CONSUMER_PHONE = "13800138000"
DEFAULT_EVENT_RETENTION_HOURS = ServiceSettings.model_fields["event_retention_hours"].default
OUTBOX = outbox_table(new_metadata())
STOP_TIMEOUT = 10.0

Report = Callable[[str], None]


class StackError(RuntimeError):
    """The stack could not be brought up; the message says what and where to look."""


@dataclass(frozen=True)
class Ports:
    gateway: int = 8000
    complaints: int = 8001
    merchants: int = 8002
    mediation: int = 8003

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Ports:
        """Defaults overridden by ODR_GATEWAY_PORT, ODR_COMPLAINTS_PORT, ODR_MERCHANTS_PORT, ODR_MEDIATION_PORT."""
        defaults = cls()
        return cls(**{name: int(environ.get(f"ODR_{name.upper()}_PORT", getattr(defaults, name))) for name in APPS})

    @classmethod
    def free(cls) -> Ports:
        return cls(**{name: infra.free_port() for name in APPS})

    def of(self, name: str) -> int:
        port: int = getattr(self, name)
        return port


@dataclass
class StackConfig:
    """Where things run. `database_url` / `kafka_bootstrap` left None means: start the embedded one."""

    repo_root: Path
    work_dir: Path
    secrets: StackSecrets
    ports: Ports = field(default_factory=Ports)
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    embedded_pg_port: int = 54329
    embedded_kafka_port: int = 19092
    database_prefix: str = "odr"
    fresh_databases: bool = False
    environment: str = "dev"
    python: str = sys.executable
    ready_timeout: float = 90.0
    # Extra ODR_* settings per process name, over the stack's own (the e2e tests shorten webhook retries, say).
    settings_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # uvicorn worker processes per process name (1 when not named). Safe for the services: the outbox relay
    # publishes from the advisory-lock leader only, the deadline sweeper claims rows with SKIP LOCKED, consumers
    # share their group's partitions, and every worker LISTENs for its own live streams. The gateway's rate limits
    # are per process, so N gateway workers allow N times the configured rates.
    workers: Mapping[str, int] = field(default_factory=dict)

    def database_name(self, service: str) -> str:
        return f"{self.database_prefix}_{service}"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    def upload_dirs(self, service: str) -> dict[str, str]:
        """Where a service keeps uploaded files: absolute, in the work dir, whatever directory it starts in."""
        directories = {"complaints": ("ODR_EVIDENCE_DIR", "evidence"), "merchants": ("ODR_LICENCE_DIR", "licences"),
                       "mediation": ("ODR_ATTACHMENT_DIR", "attachments")}
        if service not in directories:
            return {}
        variable, name = directories[service]
        return {variable: str(self.work_dir / name)}


@dataclass(frozen=True)
class Exit:
    name: str
    returncode: int


class Stack:
    """Brings the platform up step by step and down in reverse; every child process is ours to stop."""

    def __init__(self, config: StackConfig, report: Report = print) -> None:
        self.config = config
        self.report = report
        self.database_url = config.database_url or ""
        self.kafka_bootstrap = config.kafka_bootstrap or ""
        self.postgres: infra.ChildProcess | None = None
        self.broker: infra.ChildProcess | None = None
        self.processes: dict[str, infra.ChildProcess] = {}
        self.demo: dict[str, Any] = {}
        self._reported_exits: set[int] = set()

    async def start(self) -> None:
        """Everything, in order; on failure whatever was started is stopped again."""
        try:
            self.start_infrastructure()
            await self.create_databases()
            await self.migrate()
            await self.create_topics()
            if self.broker is not None:
                await self._requeue_for_new_broker()
            self.demo = await self.seed()
            self.start_processes()
            await self.wait_ready()
            self._report_unsettled(await self.wait_settled())
        except BaseException:
            self.stop()
            raise

    def start_infrastructure(self) -> None:
        """Embedded PostgreSQL and Tansu, unless the configuration names servers to use."""
        if not self.database_url:
            port = self.config.embedded_pg_port
            self._refuse_busy_port(port, "ODR_EMBEDDED_PG_PORT")
            self.report(f"starting PostgreSQL on 127.0.0.1:{port} (data in {self.config.work_dir / 'pgdata'})")
            try:
                self.postgres = infra.start_postgres(self.config.work_dir / "pgdata", port)
            except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as error:
                raise StackError(f"embedded PostgreSQL did not start ({error}); "
                                 f"see {self.config.work_dir / 'postgres.log'}") from error
            self.database_url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        if not self.kafka_bootstrap:
            port = self.config.embedded_kafka_port
            self._refuse_busy_port(port, "ODR_EMBEDDED_KAFKA_PORT")
            self.report(f"starting the Tansu broker on 127.0.0.1:{port} (memory storage)")
            self.broker = self._start_broker()
            self.kafka_bootstrap = f"127.0.0.1:{port}"

    def _start_broker(self) -> infra.ChildProcess:
        log = self.config.log_dir / "tansu.log"
        try:
            return infra.start_broker(self.config.embedded_kafka_port, log)
        except (RuntimeError, TimeoutError) as error:
            raise StackError(f"the embedded broker did not start ({error}); see {log}") from error

    @staticmethod
    def _refuse_busy_port(port: int, variable: str) -> None:
        if infra.port_open("127.0.0.1", port):
            raise StackError(f"127.0.0.1:{port} is already in use (a previous run still alive?); "
                             f"stop it or set {variable}")

    async def create_databases(self, *, keep_existing: bool = False) -> None:
        """One database per service; dropped first when the configuration asks for fresh ones, unless
        `keep_existing` (an operator's `odr migrate` never drops data, whatever the stack was started with)."""
        connection = await asyncpg.connect(asyncpg_dsn(self.database_url, "postgres"))
        try:
            for service in SERVICES:
                name = self.config.database_name(service)
                if self.config.fresh_databases and not keep_existing:
                    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
                if not exists:
                    await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    async def drop_databases(self) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(self.database_url, "postgres"))
        try:
            for service in SERVICES:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.config.database_name(service)}" WITH (FORCE)')
        finally:
            await connection.close()

    async def migrate(self) -> None:
        """Each service's `alembic upgrade head`, run as deployments run it, the three at once."""
        self.report("applying migrations")
        await asyncio.gather(*(
            self._run_checked(
                [self.config.python, "-m", "alembic", "-c", "alembic.ini", "upgrade", "head"],
                what=f"{service} migrations", env=self.service_env(service),
                cwd=self.config.repo_root / "services" / service,
            )
            for service in SERVICES
        ))

    async def create_topics(self, attempts: int = 20) -> None:
        """Topics are created explicitly (the broker would auto-create them with the wrong partition count)."""
        for attempt in range(attempts):
            try:
                await ensure_topics(self.kafka_bootstrap, all_topics())
                return
            except Exception as error:
                if attempt == attempts - 1:
                    raise StackError(f"could not create topics on {self.kafka_bootstrap}: {error!r}") from error
                await asyncio.sleep(0.5)

    async def seed(self) -> dict[str, Any]:
        """Demo regulator accounts and approved ODR enterprises; `merchants.cli seed` prints them as JSON."""
        self.report("seeding demo data")
        env = {**self.service_env("merchants"), "ODR_DEMO_REGULATOR_PASSWORD": self.config.secrets.regulator_password}
        output = await self._run_checked([self.config.python, "-m", "merchants.cli", "seed"], what="seed", env=env,
                                         cwd=self.config.repo_root)
        try:
            seeded: dict[str, Any] = json.loads(output)
        except json.JSONDecodeError as error:
            raise StackError(f"merchants.cli seed printed something other than one JSON object:\n{output}") from error
        return seeded

    def start_processes(self) -> None:
        for name in (*SERVICES, GATEWAY):
            self.start_process(name)

    def start_process(self, name: str) -> None:
        """One uvicorn process; its own session, so Ctrl-C reaches only us and we stop children in order."""
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path(name).open("ab") as log:
            process = subprocess.Popen(
                [self.config.python, "-m", "uvicorn", APPS[name], "--factory", "--host", "127.0.0.1",
                 "--port", str(self.config.ports.of(name)), "--no-access-log", "--no-proxy-headers",
                 "--timeout-graceful-shutdown", "5",
                 "--workers", str(self.config.workers.get(name, 1))],
                cwd=self.config.repo_root, env=self.service_env(name), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=infra.die_with_parent,
            )
        self.processes[name] = infra.ChildProcess(name, process)

    def stop_process(self, name: str) -> None:
        _stop_all([self.processes.pop(name)])

    async def wait_ready(self, names: Iterable[str] | None = None) -> None:
        """Poll each /readyz until it answers 200; say who is late; fail with their log's tail."""
        waiting = set(names or self.processes)
        deadline = time.monotonic() + self.config.ready_timeout
        next_report = time.monotonic() + 10
        last_answer: dict[str, str] = {}
        async with httpx.AsyncClient(timeout=2.0) as client:
            while waiting:
                for name in sorted(waiting):
                    process = self.processes[name].process
                    if process.poll() is not None:
                        raise StackError(f"{name} exited with {process.returncode} while starting:\n"
                                         f"{self.log_tail(name)}")
                    try:
                        response = await client.get(f"{self.url(name)}/readyz")
                        last_answer[name] = f"{response.status_code} {response.text[:200]}"
                        if response.status_code == 200:
                            waiting.discard(name)
                    except httpx.HTTPError as error:
                        last_answer[name] = repr(error)
                now = time.monotonic()
                if waiting and now > deadline:
                    details = "\n".join(f"--- {name}: {last_answer.get(name)}\n{self.log_tail(name)}"
                                        for name in sorted(waiting))
                    raise StackError(f"not ready within {self.config.ready_timeout:.0f}s: "
                                     f"{', '.join(sorted(waiting))}\n{details}")
                if waiting and now > next_report:
                    self.report(f"still waiting for: {', '.join(sorted(waiting))}")
                    next_report = now + 10
                if waiting:
                    await asyncio.sleep(0.2)

    async def wait_settled(self, within: float = 30.0) -> list[str]:
        """Wait until every outbox row is published and every consumer group has read its topics to the end.

        Then what one service wrote has reached the others (the seeded enrollments, say). Every group is run by a
        service of the stack, so a group that has committed nothing yet is behind, not absent: on a loaded machine
        a consumer can take many seconds to join. Returns what was still unsettled when `within` ran out; empty
        when settled.
        """
        started = time.monotonic()
        probes = {group: AIOKafkaConsumer(bootstrap_servers=self.kafka_bootstrap, group_id=group,
                                          enable_auto_commit=False) for group in CONSUMER_GROUPS}
        try:
            for probe in probes.values():
                await probe.start()
            while True:
                pending = await self._unpublished_outboxes()
                for group, probe in probes.items():
                    pending += [f"{group} on {where}" for where in await _lagging(probe, group)]
                if not pending or time.monotonic() - started > within:
                    return pending
                await asyncio.sleep(0.2)
        finally:
            for probe in probes.values():
                await probe.stop()

    async def _unpublished_outboxes(self) -> list[str]:
        pending = []
        for service in SERVICES:
            connection = await asyncpg.connect(asyncpg_dsn(self.database_url, self.config.database_name(service)))
            try:
                unpublished = await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            finally:
                await connection.close()
            if unpublished:
                pending.append(f"{service} outbox ({unpublished} unpublished)")
        return pending

    def unexpected_exits(self) -> list[Exit]:
        """Children that died on their own since the last call (each reported once)."""
        children = [*self.processes.values(), *(c for c in (self.broker, self.postgres) if c is not None)]
        exits = []
        for child in children:
            code = child.process.poll()
            if code is not None and child.process.pid not in self._reported_exits:
                self._reported_exits.add(child.process.pid)
                exits.append(Exit(child.name, code))
        return exits

    async def restart(self, name: str) -> None:
        """Bring one child back after it died: PostgreSQL on its data directory (it replays its WAL), the embedded
        broker together with every client of it, a service or the gateway on its own."""
        if name == "postgres":
            await self.restart_postgres()
        elif name == "tansu":
            await self.recover_from_broker_loss()
        else:
            self.start_process(name)

    async def restart_postgres(self) -> None:
        """The embedded server again on the same data and port; crash recovery runs before it accepts connections.

        Until then the services answer 503 and their pools reconnect by themselves (servicekit.db)."""
        assert self.postgres is not None, "only the embedded PostgreSQL is restarted by the stack"
        try:
            self.postgres = await asyncio.to_thread(infra.start_postgres, self.config.work_dir / "pgdata",
                                                    self.config.embedded_pg_port)
        except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as error:
            raise StackError(f"embedded PostgreSQL did not start again ({error}); "
                             f"see {self.log_of('postgres')}") from error

    def log_of(self, name: str) -> Path:
        """Where a child's output goes."""
        if name == "postgres":
            return self.config.work_dir / "postgres.log"
        if name == "tansu":
            return self.config.log_dir / "tansu.log"
        return self.log_path(name)

    async def recover_from_broker_loss(self) -> None:
        """The embedded broker keeps everything in memory: restart it and every client, re-publish what was sent."""
        assert self.broker is not None, "only the embedded broker is restarted by the stack"
        self.report("the embedded broker stopped: restarting the broker and every service")
        _stop_all(list(self.processes.values()))
        self.processes.clear()
        self.broker.stop()
        self.broker = self._start_broker()
        await self.create_topics()
        await self._requeue_for_new_broker()
        self.start_processes()
        await self.wait_ready()
        self._report_unsettled(await self.wait_settled())

    def _report_unsettled(self, pending: list[str]) -> None:
        if pending:
            self.report(f"serving, but events are still in flight: {', '.join(pending)}")

    async def _requeue_for_new_broker(self) -> None:
        """A fresh embedded broker holds nothing: events kept from an earlier broker are sent again."""
        requeued = await self.requeue_published()
        if requeued:
            self.report(f"re-publishing {requeued} retained events to the new broker")

    async def requeue_published(self) -> int:
        """Mark every outbox row published within the retention period unpublished, so each relay sends it again;
        inboxes drop duplicates (their rows outlive the outbox rows, servicekit.retention). Older rows are left for
        the retention job: their events are not brought back."""
        total = 0
        for service in SERVICES:
            hours = float(self.service_env(service).get("ODR_EVENT_RETENTION_HOURS", DEFAULT_EVENT_RETENTION_HOURS))
            engine = create_async_engine(
                make_url(self.database_url).set(drivername="postgresql+asyncpg",
                                                database=self.config.database_name(service)),
                poolclass=NullPool)
            try:
                total += await requeue_published(engine, OUTBOX, since=utcnow() - timedelta(hours=hours))
            finally:
                await engine.dispose()
        return total

    def stop(self) -> None:
        """Gateway and services first, then the broker, then PostgreSQL."""
        gateway = [self.processes[GATEWAY]] if GATEWAY in self.processes else []
        _stop_all(gateway)
        _stop_all([process for name, process in self.processes.items() if name != GATEWAY])
        self.processes.clear()
        for child in (self.broker, self.postgres):
            if child is not None:
                child.stop()
        self.broker = self.postgres = None

    def service_env(self, name: str) -> dict[str, str]:
        """What one process is told through ODR_* variables; everything else is inherited."""
        secrets = self.config.secrets
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "ODR_ENVIRONMENT": self.config.environment,
            "ODR_SERVICE_NAME": name,
            "ODR_DATABASE_URL": self.database_url,
            "ODR_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "ODR_JWT_PUBLIC_KEY": secrets.jwt_public_key,
            "ODR_PII_KEY": secrets.pii_key,
            "ODR_SUBJECT_KEY": secrets.subject_key,
            "ODR_INTERNAL_TOKEN": secrets.internal_token,
        }
        if name in SERVICES:
            env["ODR_DATABASE_NAME"] = self.config.database_name(name)
            env.update(self.config.upload_dirs(name))
        else:
            env.pop("ODR_DATABASE_NAME", None)
            env["ODR_JWT_PRIVATE_KEY"] = secrets.jwt_private_key
            env["ODR_OTP_SECRET"] = secrets.otp_secret
            for service in SERVICES:
                env[f"ODR_{service.upper()}_URL"] = self.url(service)
        env.update(self.config.settings_overrides.get(name, {}))
        return env

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.config.ports.of(name)}"

    def demo_document(self) -> dict[str, Any]:
        """The content of `.odr/demo.json` (shape in architecture.md §5)."""
        return {
            "gateway": self.url(GATEWAY),
            "consumer_phone": DEMO_CONSUMER_PHONE,
            "regulator": self.demo.get("regulator", {}),
            "regulators": self.demo.get("regulators", []),
            "staff_admin": self.demo.get("staff_admin", {}),
            "merchants": self.demo.get("merchants", []),
            "stations": self.demo.get("stations", []),
        }

    def log_path(self, name: str) -> Path:
        return self.config.log_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_path(name)
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    async def _run_checked(self, command: list[str], *, what: str, env: dict[str, str], cwd: Path) -> str:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
        if process.returncode != 0:
            raise StackError(f"{what} failed with exit code {process.returncode}:\n"
                             f"{stdout.decode(errors='replace')}\n{stderr.decode(errors='replace')}")
        return stdout.decode()


def group_partitions(group: str) -> list[TopicPartition]:
    """Every partition of the topics `group` reads."""
    return [TopicPartition(topic, number) for topic in CONSUMER_GROUPS[group] for number in range(TOPICS[topic])]


async def _lagging(probe: AIOKafkaConsumer, group: str) -> list[str]:
    """The group's partitions whose committed offset (none counts as 0) is behind the end."""
    partitions = group_partitions(group)
    ends = await probe.end_offsets(partitions)
    return [f"{partition.topic}[{partition.partition}]" for partition in partitions
            if (await probe.committed(partition) or 0) < ends[partition]]


def _stop_all(children: list[infra.ChildProcess]) -> None:
    """Ask all to stop at once, then wait; whoever outlives the grace period is killed with its group."""
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


@asynccontextmanager
async def settled_stack(config: StackConfig) -> AsyncIterator[Stack]:
    """The whole platform for a test suite: started and its start-up events settled; stopped and its databases dropped
    afterwards, also when it fails to start."""
    stack = Stack(config, report=lambda message: None)
    try:
        await stack.start()
        pending = await stack.wait_settled()
        if pending:
            raise StackError(f"events still in flight after start-up: {pending}")
        yield stack
    finally:
        stack.stop()
        if config.database_url is not None:
            # An embedded server is gone with its throw-away data directory; a shared one is cleaned up.
            await stack.drop_databases()
