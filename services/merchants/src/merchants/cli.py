"""Operator commands of the merchants service: ``python -m merchants.cli <command>``.

    python -m merchants.cli seed
    python -m merchants.cli staff-account --username zhang.wei --role regulator --region 632801 --name 张伟 < password
    python -m merchants.cli rotate-credentials --merchant 0193... [--overlap-hours 24]

Database settings are read from the environment like the service's (``ODR_DATABASE_URL``, ``ODR_DATABASE_NAME``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from datetime import timedelta

import orjson

from merchants import seed as demo
from merchants.access import service as access_service
from merchants.credentials import passwords
from merchants.credentials import service as credentials_service
from merchants.credentials.models import StaffRole
from merchants.settings import MerchantsSettings
from servicekit import regions
from servicekit.db import create_engine, create_sessionmaker
from servicekit.problems import Problem

STAFF_ACCOUNT_HELP = """Regulator staff accounts, for the operator who sets up a deployment.

Creates the account, or resets its password and profile. The password is read from standard input (never from the
command line, where other users of the host could see it). Station staff are created by regulators through
`POST /v1/regulator/stations/{id}/staff` instead.
"""

ROTATE_HELP = """An enterprise's API credentials, rotated by the operator (say, after a leak the enterprise reported).

Issues a new client and prints it as one JSON line; the old ones are revoked at once, or keep working for
--overlap-hours beside the new. Same use case as the enterprise's own `POST /v1/merchant/credentials/rotate`.
"""


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m merchants.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed", help="create the demo data and print its credentials", description=demo.__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    staff = commands.add_parser("staff-account", help="create a regulator staff account or reset its password",
                                description=STAFF_ACCOUNT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    staff.add_argument("--username", required=True)
    staff.add_argument("--role", required=True,
                       choices=[StaffRole.REGULATOR.value, StaffRole.MEDIATOR.value, StaffRole.HOTLINE.value])
    staff.add_argument("--region", required=True, help="GB/T 2260 code of the administration")
    staff.add_argument("--name", required=True, help="display name")
    rotate = commands.add_parser("rotate-credentials", help="issue an enterprise new API credentials",
                                 description=ROTATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    rotate.add_argument("--merchant", required=True, type=uuid.UUID, help="the enterprise's merchant id")
    rotate.add_argument("--overlap-hours", type=float, default=0.0,
                        help="how long the old credentials keep working beside the new (0: revoked at once)")
    arguments = parser.parse_args(argv)
    if arguments.command == "staff-account" and regions.get(arguments.region) is None:
        staff.error(f"unknown region {arguments.region}")
    return arguments


async def create_staff_account(settings: MerchantsSettings, arguments: argparse.Namespace, password: str) -> None:
    engine = create_engine(settings, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            await credentials_service.upsert_staff_account(
                session, username=arguments.username, password=password, role=arguments.role,
                region_code=arguments.region, display_name=arguments.name)
    finally:
        await engine.dispose()


def staff_account(arguments: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\r\n")
    broken = passwords.rule_errors(password, username=arguments.username, field="password")
    if broken:
        rules = "; ".join(error["message"].lower() for error in broken)
        print(f"the password (standard input) does not meet the rules: {rules}", file=sys.stderr)
        return 2
    asyncio.run(create_staff_account(MerchantsSettings(), arguments, password))
    print(f"{arguments.role} account {arguments.username} ({arguments.region}) is ready")
    return 0


async def rotate_credentials(settings: MerchantsSettings, merchant_id: uuid.UUID, overlap: timedelta) -> bytes:
    engine = create_engine(settings, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            rotated = await access_service.rotate_api_client(session, merchant_id=merchant_id, overlap=overlap)
    finally:
        await engine.dispose()
    return orjson.dumps({"merchant_id": str(merchant_id), "client_id": rotated.issued.client_id,
                         "client_secret": rotated.issued.client_secret,
                         "previous_valid_until": rotated.previous_valid_until})


def rotate(arguments: argparse.Namespace) -> int:
    try:
        printed = asyncio.run(rotate_credentials(MerchantsSettings(), arguments.merchant,
                                                 timedelta(hours=arguments.overlap_hours)))
    except Problem as refused:
        print(refused.detail or refused.slug, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(printed + b"\n")
    return 0


def seed_demo() -> int:
    """Seed and print the credentials as one JSON line."""
    result = asyncio.run(demo.seed(demo.SeedSettings()))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = parse(argv)
    if arguments.command == "seed":
        return seed_demo()
    if arguments.command == "rotate-credentials":
        return rotate(arguments)
    return staff_account(arguments)


if __name__ == "__main__":
    sys.exit(main())
