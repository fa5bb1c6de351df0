"""`python -m merchants.cli staff-account`: the operator creates a regulator account; it signs in; a short password or
an unknown region is refused and writes nothing."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
from merchants_testkit import VERIFY, internal_headers
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(VERIFY, json={"grant_type": "password", "username": username, "password": password},
                             headers=internal_headers())


async def test_the_operator_creates_a_regulator_who_can_sign_in_and_resets_the_password(
    settings: MerchantsSettings, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    account = ["--username", "cli.regulator", "--role", "regulator", "--region", "632801", "--name", "格尔木监管员"]
    code, output = await run_cli(settings, "first-password-123", *account)
    assert code == 0, output
    identity = await sign_in(client, "cli.regulator", "first-password-123")
    assert identity.status_code == 200, identity.text
    assert (identity.json()["roles"], identity.json()["region"]) == (["regulator"], "632801")

    code, output = await run_cli(settings, "second-password-456", *account)
    assert code == 0, output
    assert (await sign_in(client, "cli.regulator", "first-password-123")).status_code == 401
    assert (await sign_in(client, "cli.regulator", "second-password-456")).status_code == 200
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
    common = await run_cli(settings, "Password1234", "--username", "cli.short", "--role", "mediator", "--region",
                           "632801", "--name", "x")
    assert common[0] == 2
    assert "too common" in common[1]
    assert unknown[0] == 2
    assert "unknown region 999999" in unknown[1]
    assert await accounts_named(sessionmaker, "cli.short") == 0
