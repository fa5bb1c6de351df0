"""Regulator staff accounts from the command line, for the operator who sets up a deployment:

    python -m merchants.credentials.cli --username zhang.wei --role regulator --region 632801 --name 张伟 < password

Creates the account, or resets its password and profile. The password is read from standard input (never from the
command line, where other users of the host could see it). Station staff are created by regulators through
`POST /v1/regulator/stations/{id}/staff` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from merchants.credentials import service as credentials_service
from merchants.credentials.models import StaffRole
from merchants.settings import MerchantsSettings
from servicekit import regions
from servicekit.db import create_engine, create_sessionmaker

MIN_PASSWORD_LENGTH = 12


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m merchants.credentials.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--username", required=True)
    parser.add_argument("--role", required=True, choices=[StaffRole.REGULATOR.value, StaffRole.MEDIATOR.value,
                                                                StaffRole.HOTLINE.value])
    parser.add_argument("--region", required=True, help="GB/T 2260 code of the administration")
    parser.add_argument("--name", required=True, help="display name")
    arguments = parser.parse_args(argv)
    if regions.get(arguments.region) is None:
        parser.error(f"unknown region {arguments.region}")
    return arguments


async def create_account(settings: MerchantsSettings, arguments: argparse.Namespace, password: str) -> None:
    engine = create_engine(settings, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            await credentials_service.upsert_staff_account(
                session, username=arguments.username, password=password, role=arguments.role,
                region_code=arguments.region, display_name=arguments.name)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    arguments = parse(argv)
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"the password (standard input) must have at least {MIN_PASSWORD_LENGTH} characters", file=sys.stderr)
        return 2
    asyncio.run(create_account(MerchantsSettings(), arguments, password))
    print(f"{arguments.role} account {arguments.username} ({arguments.region}) is ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
