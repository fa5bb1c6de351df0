"""`python -m odr_runner run`: start the platform, print where it is, keep it up until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

from odr_runner.credentials import StackSecrets
from odr_runner.stack import APPS, GATEWAY, Ports, Stack, StackConfig, StackError
from odr_runner.supervisor import Supervisor

REPO_ROOT = Path(__file__).resolve().parents[4]


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m odr_runner", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start everything and keep it running until Ctrl-C")
    parser.parse_args(argv)
    # platformdirs (imported by the embedded PostgreSQL package) warns about a variable only desktops set.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    return asyncio.run(run(REPO_ROOT, os.environ))


def config_from_env(repo_root: Path, environ: Mapping[str, str]) -> StackConfig:
    """The local stack's configuration: embedded infrastructure unless ODR_DATABASE_URL / ODR_KAFKA_BOOTSTRAP."""
    work_dir = repo_root / ".odr"
    return StackConfig(
        repo_root=repo_root,
        work_dir=work_dir,
        secrets=StackSecrets.load_or_create(work_dir / "secrets.json"),
        ports=Ports.from_env(environ),
        database_url=environ.get("ODR_DATABASE_URL") or None,
        kafka_bootstrap=environ.get("ODR_KAFKA_BOOTSTRAP") or None,
        embedded_pg_port=int(environ.get("ODR_EMBEDDED_PG_PORT", "54329")),
        embedded_kafka_port=int(environ.get("ODR_EMBEDDED_KAFKA_PORT", "19092")),
        environment=environ.get("ODR_ENVIRONMENT", "dev"),
    )


class Say:
    """The runner's voice: each line on the terminal and, time-stamped, in `.odr/logs/runner.log`."""

    def __init__(self, log_path: Path | None = None) -> None:
        self.log_path = log_path

    def __call__(self, message: str) -> None:
        print(f"[odr] {message}", flush=True)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            with self.log_path.open("a") as log:
                log.write(f"{stamp} {message}\n")


async def run(repo_root: Path, environ: Mapping[str, str]) -> int:
    """Bring the stack up, print the banner, supervise; always stop what was started."""
    began = time.monotonic()
    config = config_from_env(repo_root, environ)
    say = Say(config.log_dir / "runner.log")
    stack = Stack(config, report=say)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop_requested.set)
    try:
        if not await _start_unless_stopped(stack, stop_requested):
            return 130
        ready_after = time.monotonic() - began
        demo_path = repo_root / ".odr" / "demo.json"
        _write_private(demo_path, json.dumps(stack.demo_document(), ensure_ascii=False, indent=2))
        print(banner(stack, ready_after, demo_path), flush=True)
        await Supervisor(stack).run(stop_requested)
        return 0
    except StackError as error:
        say(f"failed: {error}")
        return 1
    finally:
        say("stopping")
        stack.stop()
        say("stopped")


async def _start_unless_stopped(stack: Stack, stop_requested: asyncio.Event) -> bool:
    """Start the stack; Ctrl-C while starting cancels it (Stack.start stops what it began)."""
    starting = asyncio.ensure_future(stack.start())
    stopping = asyncio.ensure_future(stop_requested.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if starting.done():
        stopping.cancel()
        starting.result()
        return True
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError, StackError):
        await starting
    return False


def banner(stack: Stack, ready_after: float, demo_path: Path) -> str:
    """Where everything is and how to log in."""
    demo = stack.demo_document()
    regulator = demo["regulator"]
    lines = [
        "",
        f"ODR platform ready in {ready_after:.1f} s",
        f"  gateway      {stack.url(GATEWAY)}   API docs: {stack.url(GATEWAY)}/docs",
        *(f"  {name:<12} {stack.url(name)}" for name in APPS if name != GATEWAY),
        f"  consumer app {stack.url(GATEWAY)}/app/   regulator console {stack.url(GATEWAY)}/console/",
        f"  station desk {stack.url(GATEWAY)}/station/   enterprise portal {stack.url(GATEWAY)}/portal/",
        "",
        f"Demo credentials (also in {demo_path}):",
        f"  consumer phone  {demo['consumer_phone']}  (POST /auth/otp; in dev mode the code comes back as dev_code)",
        f"  regulator       {regulator.get('username')} / {regulator.get('password')}  "
        f"(region {regulator.get('region')})",
        *(f"  also regulator  {other.get('username')} / {other.get('password')}  (region {other.get('region')})"
          for other in demo.get("regulators", []) if other.get("username") != regulator.get("username")),
        *(f"  staff admin     {admin['username']} / {admin['password']}  (region {admin['region']}; 人员管理)"
          for admin in [demo.get("staff_admin") or {}] if admin.get("username")),
        *(f"  enterprise      {merchant.get('name')}: merchant_id={merchant.get('merchant_id')} "
          f"client_id={merchant.get('client_id')} client_secret={merchant.get('client_secret')}\n"
          f"                  portal {merchant.get('portal_username')} / {merchant.get('portal_password')}"
          for merchant in demo["merchants"]),
        *(f"  station staff   {station.get('username')} / {station.get('password')}  ({station.get('name')})"
          for station in demo.get("stations", [])),
        "",
        f"Logs in {stack.config.log_dir}. Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content + "\n")

