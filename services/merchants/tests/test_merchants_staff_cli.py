"""`python -m merchants.cli staff-account`: the operator creates a regulator account; it signs in; a short password or
an unknown region is refused and writes nothing."""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.credentials import service as credentials_service
from merchants.settings import MerchantsSettings


async def run_cli(settings: MerchantsSettings, password: str, *arguments: str) -> tuple[int, str]:
    env = {**os.environ, "ODR_DATABASE_URL": settings.database_url, "ODR_DATABASE_NAME": settings.database_name or ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "merchants.cli", "staff-account", *arguments, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate(password.encode() + b"\n")
    assert process.returncode is not None
    return process.returncode, output.decode()


async def accounts_named(sessionmaker: async_sessionmaker[AsyncSession], username: str) -> int:
    async with sessionmaker() as session:
        return int((await session.execute(text("SELECT count(*) FROM staff_account WHERE username = :u"),
                                          {"u": username})).scalar_one())


async def test_the_operator_creates_a_regulator_who_can_sign_in_and_resets_the_password(
    settings: MerchantsSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = ["--username", "cli.regulator", "--role", "regulator", "--region", "632801", "--name", "格尔木监管员"]
    code, output = await run_cli(settings, "first-password-123", *account)
    assert code == 0, output
    async with sessionmaker() as session:
        identity = await credentials_service.verify_staff_password(session, username="cli.regulator",
                                                                   password="first-password-123")
    assert identity is not None
    assert (identity.role, identity.region_code) == ("regulator", "632801")

    code, output = await run_cli(settings, "second-password-456", *account)
    assert code == 0, output
    async with sessionmaker() as session:
        assert await credentials_service.verify_staff_password(
            session, username="cli.regulator", password="first-password-123") is None
        assert await credentials_service.verify_staff_password(
            session, username="cli.regulator", password="second-password-456") is not None
    assert await accounts_named(sessionmaker, "cli.regulator") == 1


async def test_a_short_password_or_an_unknown_region_writes_nothing(
    settings: MerchantsSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    short = await run_cli(settings, "short", "--username", "cli.short", "--role", "mediator", "--region", "632801",
                          "--name", "x")
    unknown = await run_cli(settings, "long-enough-password", "--username", "cli.short", "--role", "mediator",
                            "--region", "999999", "--name", "x")
    assert short[0] == 2
    assert "at least 12 characters" in short[1]
    assert unknown[0] == 2
    assert "unknown region 999999" in unknown[1]
    assert await accounts_named(sessionmaker, "cli.short") == 0
