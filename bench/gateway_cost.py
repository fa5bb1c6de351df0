"""CPU of the gateway alone per proxied filing: the gateway as the bench stack runs it (one uvicorn worker) in front of
a stub service that answers every `POST /v1/consumer/complaints` with the same 201, driven at a fixed open-loop rate.

    .venv/bin/python -m bench.gateway_cost [--rate 200] [--seconds 10] [--rounds 2] [--tree PATH ...]

Prints, per round, the CPU ms per answered request of the gateway process and of the stub (both read from
/proc/<pid>/stat), with the load average. Consumer tokens are signed with the gateway's key, as its tests do, so no
sign-in, database or broker is involved. `--tree` names a checkout whose `gateway/src` and `libs/servicekit/src` the
gateway is imported from (default: this one); with several, the rounds alternate between them (A B A B), which on a
shared machine is the only comparison that means something. `--bare` alternates with a relay doing nothing but
uvicorn and aiohttp's work, the floor under any gateway built on them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CONSUMER_PHONE_BASE, REPO_ROOT, build_bodies, say, use_uvloop
from bench.loadgen import LoadGenerator, Request
from servicekit.auth import Audience, Role, TokenIssuer, consumer_subject, generate_private_key_pem

FILING_PATH = "/v1/consumer/complaints"
FEED_PATH = "/internal/v1/case-changes"
CONSUMERS = 200
BODY_COUNT = 2000
WARM_UP_SECONDS = 3.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SUBJECT_KEY = "bench-gateway-cost"
STUB_ANSWER = json.dumps({"id": "00000000-0000-0000-0000-000000000001", "status": "submitted"}).encode()


async def stub_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The services' stand-in: 201 and a fixed JSON to every POST, 200 to any GET, a silent held-open case feed."""
    if scope["type"] != "http":
        return
    if scope["path"] == FEED_PATH:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    status = 201 if scope["method"] == "POST" else 200
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(STUB_ANSWER)).encode()),
        (b"location", b"/v1/consumer/complaints/00000000-0000-0000-0000-000000000001"),
    ]})
    await send({"type": "http.response.body", "body": STUB_ANSWER})


def bare_relay() -> Any:
    """The floor under the gateway (`--bare`): uvicorn and one pooled aiohttp request per request, nothing else (no
    ids, metrics, token, gate, breaker or security headers); what the gateway costs beyond it is its own work."""
    base = os.environ["ODR_COMPLAINTS_URL"]
    sessions: list[aiohttp.ClientSession] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] == "lifespan.startup":
                sessions.append(aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=0, limit_per_host=256), auto_decompress=False,
                    skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                    cookie_jar=aiohttp.DummyCookieJar()))
                await send({"type": "lifespan.startup.complete"})
            await sessions[0].close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/readyz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
                   if name not in (b"host", b"content-length", b"connection")]
        async with sessions[0].request(scope["method"], URL(base + scope["path"], encoded=True), headers=headers,
                                       data=b"".join(chunks), allow_redirects=False) as answer:
            body = await answer.read()
        passed = [(name.lower(), value) for name, value in answer.raw_headers
                  if name.lower() not in (b"content-length", b"date", b"server")]
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": [*passed, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="filings a second offered")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured round")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds per tree")
    parser.add_argument("--tree", action="append", type=Path,
                        help="checkout to import the gateway from (repeat to alternate; default this one)")
    parser.add_argument("--bare", action="store_true",
                        help="alternate with a bare uvicorn + aiohttp relay in the gateway's place (the floor)")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def uvicorn(app: str, port: int, python_path: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """One uvicorn process with the bench stack's flags (odr_runner.stack), its output in `log`."""
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
               "--no-proxy-headers", "--workers", "1"]
    if app.startswith("gateway.") or app.endswith(":bare_relay"):
        command.insert(4, "--factory")
    with log.open("ab") as output:
        return subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env, "PYTHONPATH": python_path},
                                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited with {process.returncode}:\n{tail(log)}")
            try:
                async with session.get(url) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready within 60 s")
            await asyncio.sleep(0.2)


def requests_signed_with(signing_key: str) -> list[Request]:
    issuer = TokenIssuer(signing_key, "odr-gateway")
    phones = [str(CONSUMER_PHONE_BASE + index) for index in range(CONSUMERS)]
    tokens = [issuer.issue(sub=consumer_subject(phone, SUBJECT_KEY), aud=Audience.CONSUMER, roles=[Role.CONSUMER])
              for phone in phones]
    demo = {"merchants": [{"merchant_id": "6f1c2d3e-0000-4000-8000-00000000000a"},
                          {"merchant_id": "6f1c2d3e-0000-4000-8000-00000000000b"}]}
    return [(body, {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[index % CONSUMERS]}"})
            for index, body in enumerate(build_bodies(demo, phones, BODY_COUNT))]


async def measure(tree: Path | None, generator: LoadGenerator, signing_key: str, rate: float, seconds: float,
                  logs: Path) -> str:
    """One round: a fresh stub and gateway (of `tree`; None: the bare relay), a warm-up, then `seconds` at `rate`;
    the line to print."""
    stub_port, gateway_port = free_port(), free_port()
    stub_url = f"http://127.0.0.1:{stub_port}"
    env = {
        "ODR_ENVIRONMENT": "dev", "ODR_JWT_PRIVATE_KEY": signing_key, "ODR_SUBJECT_KEY": SUBJECT_KEY,
        "ODR_GATEWAY_PORT": str(gateway_port), "ODR_COMPLAINTS_URL": stub_url, "ODR_MERCHANTS_URL": stub_url,
        "ODR_MEDIATION_URL": stub_url,
    }
    own = f"{REPO_ROOT}:{REPO_ROOT / 'libs/servicekit/src'}"
    stub_log, gateway_log = logs / "stub.log", logs / "gateway.log"
    stub = uvicorn("bench.gateway_cost:stub_app", stub_port, own, env, stub_log)
    if tree is None:
        gateway = uvicorn("bench.gateway_cost:bare_relay", gateway_port, own, env, gateway_log)
    else:
        gateway = uvicorn("gateway.main:create_app", gateway_port,
                          f"{tree / 'gateway/src'}:{tree / 'libs/servicekit/src'}", env, gateway_log)
    try:
        await wait_ready(f"{stub_url}/readyz", stub, stub_log)
        await wait_ready(f"http://127.0.0.1:{gateway_port}/readyz", gateway, gateway_log)
        url = f"http://127.0.0.1:{gateway_port}{FILING_PATH}"
        await generator.step(url, rate, WARM_UP_SECONDS)
        load = os.getloadavg()[0]
        gateway_before, stub_before = cpu_seconds(gateway.pid), cpu_seconds(stub.pid)
        step = await generator.step(url, rate, seconds)
        gateway_ms = 1000 * (cpu_seconds(gateway.pid) - gateway_before) / max(step.ok, 1)
        stub_ms = 1000 * (cpu_seconds(stub.pid) - stub_before) / max(step.ok, 1)
        return (f"{tree or 'bare relay'}: gateway {gateway_ms:.3f} ms CPU per request, stub {stub_ms:.3f}; "
                f"{step.summary()}; load average {load:.2f}")
    finally:
        for process in (gateway, stub):
            process.terminate()
            process.wait(10)


async def main(argv: list[str] | None = None) -> None:
    arguments = parse(argv)
    trees: list[Path | None] = [tree.resolve() for tree in arguments.tree or [REPO_ROOT]]
    if arguments.bare:
        trees.append(None)
    signing_key = generate_private_key_pem()
    generator = LoadGenerator(requests_signed_with(signing_key))
    try:
        with tempfile.TemporaryDirectory(prefix="gateway-cost-") as logs:
            for _ in range(arguments.rounds):
                for tree in trees:
                    say(await measure(tree, generator, signing_key, arguments.rate, arguments.seconds, Path(logs)))
    finally:
        generator.close()


if __name__ == "__main__":
    use_uvloop()
    asyncio.run(main())
