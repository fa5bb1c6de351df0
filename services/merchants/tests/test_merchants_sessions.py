"""Session families behind the gateway's refresh tokens: rotation, reuse detection, expiry, revocation, disabled
staff accounts, and that only digests are stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import httpx
from merchants_testkit import internal_headers
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.credentials import service as credentials_service
from merchants.credentials.models import StaffAccount
from merchants.sessions.models import RefreshToken, SessionFamily
from merchants.sessions.service import prune_ended
from servicekit.db import utcnow

SESSIONS = "/internal/v1/sessions"
DAY = 24 * 3600


def consumer_subject() -> str:
    return "c_" + secrets.token_hex(12)


async def start(client: httpx.AsyncClient, kind: str, subject: str) -> dict[str, Any]:
    response = await client.post(SESSIONS, json={"kind": kind, "subject": subject}, headers=internal_headers())
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    issued: dict[str, Any] = response.json()
    return issued


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{SESSIONS}/refresh", json={"refresh_token": token}, headers=internal_headers())


async def family_of(sessionmaker: async_sessionmaker[AsyncSession], family_id: str) -> SessionFamily:
    async with sessionmaker() as session:
        family = await session.get(SessionFamily, family_id)
        assert family is not None
        return family


async def staff_account(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    username = f"reg-{secrets.token_hex(4)}"
    async with sessionmaker() as session:
        await credentials_service.upsert_staff_account(session, username=username, password="pw-" + username,
                                                       role="regulator", region_code="632801",
                                                       display_name="格尔木审核员")
    return username


async def test_a_consumer_refresh_token_rotates_within_its_family(client: httpx.AsyncClient) -> None:
    subject = consumer_subject()
    first = await start(client, "consumer", subject)
    assert first["refresh_token"].startswith("ort_")
    assert first["refresh_expires_in"] == 30 * DAY
    assert first["claims"] == {"sub": subject, "aud": "consumer", "roles": ["consumer"], "region": None,
                               "station_id": None, "merchant_id": None}

    second = await refresh(client, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["family_id"] == first["family_id"]
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["claims"]["sub"] == subject
    third = await refresh(client, rotated["refresh_token"])
    assert third.status_code == 200, third.text


async def test_presenting_a_rotated_token_again_revokes_the_whole_family(
        client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    first = await start(client, "consumer", consumer_subject())
    successor = (await refresh(client, first["refresh_token"])).json()["refresh_token"]

    replayed = await refresh(client, first["refresh_token"])
    assert replayed.status_code == 401
    assert replayed.headers["content-type"].startswith("application/problem+json")
    # The legitimate holder's newer token dies with it: the server cannot tell which copy is the thief's.
    assert (await refresh(client, successor)).status_code == 401
    family = await family_of(sessionmaker, first["family_id"])
    assert family.revoked_reason == "reuse_detected"
    assert family.revoked_at is not None


async def test_an_expired_token_or_family_is_refused_and_a_token_never_outlives_its_family(
        client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    stale = await start(client, "consumer", consumer_subject())
    async with sessionmaker() as session, session.begin():
        await session.execute(update(RefreshToken).where(RefreshToken.family_id == stale["family_id"])
                              .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await refresh(client, stale["refresh_token"])).status_code == 401

    ending = await start(client, "consumer", consumer_subject())
    async with sessionmaker() as session, session.begin():
        await session.execute(update(SessionFamily).where(SessionFamily.id == ending["family_id"])
                              .values(expires_at=utcnow() + timedelta(hours=1)))
    last = await refresh(client, ending["refresh_token"])
    assert last.status_code == 200, last.text
    assert 3500 <= last.json()["refresh_expires_in"] <= 3600
    async with sessionmaker() as session, session.begin():
        await session.execute(update(SessionFamily).where(SessionFamily.id == ending["family_id"])
                              .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await refresh(client, last.json()["refresh_token"])).status_code == 401


async def test_revoking_ends_the_family_and_unknown_tokens_are_not_an_error(
        client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    first = await start(client, "consumer", consumer_subject())
    current = (await refresh(client, first["refresh_token"])).json()["refresh_token"]
    # Any token of the family names it, the rotated one too.
    revoked = await client.post(f"{SESSIONS}/revoke", json={"refresh_token": first["refresh_token"]},
                                headers=internal_headers())
    assert revoked.status_code == 204
    assert (await refresh(client, current)).status_code == 401
    assert (await family_of(sessionmaker, first["family_id"])).revoked_reason == "signed_out"

    again = await client.post(f"{SESSIONS}/revoke", json={"refresh_token": current}, headers=internal_headers())
    assert again.status_code == 204
    assert (await family_of(sessionmaker, first["family_id"])).revoked_reason == "signed_out"
    unknown = await client.post(f"{SESSIONS}/revoke", json={"refresh_token": "ort_" + secrets.token_urlsafe(32)},
                                headers=internal_headers())
    assert unknown.status_code == 204


async def test_a_staff_session_carries_the_account_and_ends_when_it_is_disabled(
        client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    username = await staff_account(sessionmaker)
    first = await start(client, "staff", username)
    assert first["refresh_expires_in"] == 8 * 3600
    assert first["claims"] == {"sub": username, "aud": "regulator", "roles": ["regulator"], "region": "632801",
                               "station_id": None, "merchant_id": None}
    # A staff member is not an enterprise's person: their username opens no portal session.
    as_portal = await client.post(SESSIONS, json={"kind": "merchant_portal", "subject": username},
                                  headers=internal_headers())
    assert as_portal.status_code == 401
    # A change to the account shows in the next access token.
    async with sessionmaker() as session, session.begin():
        await session.execute(update(StaffAccount).where(StaffAccount.username == username)
                              .values(region_code="632800"))
    moved = await refresh(client, first["refresh_token"])
    assert moved.status_code == 200, moved.text
    assert moved.json()["claims"]["region"] == "632800"

    async with sessionmaker() as session, session.begin():
        await session.execute(update(StaffAccount).where(StaffAccount.username == username)
                              .values(disabled_at=utcnow()))
    assert (await refresh(client, moved.json()["refresh_token"])).status_code == 401
    assert (await family_of(sessionmaker, first["family_id"])).revoked_reason == "account_disabled"
    refused = await client.post(SESSIONS, json={"kind": "staff", "subject": username}, headers=internal_headers())
    assert refused.status_code == 401
    unknown = await client.post(SESSIONS, json={"kind": "staff", "subject": "nobody-" + secrets.token_hex(4)},
                                headers=internal_headers())
    assert unknown.status_code == 401


async def test_only_a_digest_of_each_token_is_stored(
        client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    issued = await start(client, "consumer", consumer_subject())
    async with sessionmaker() as session:
        stored = (await session.execute(
            select(RefreshToken.token_hash).where(RefreshToken.family_id == issued["family_id"]))).scalars().all()
    assert stored == [hashlib.sha256(issued["refresh_token"].encode()).digest()]


async def test_the_session_endpoints_are_internal_and_validate(client: httpx.AsyncClient) -> None:
    outside = await client.post(SESSIONS, json={"kind": "consumer", "subject": consumer_subject()})
    assert outside.status_code == 403
    assert (await client.post(f"{SESSIONS}/refresh", json={"refresh_token": "x"})).status_code == 403
    bad_kind = await client.post(SESSIONS, json={"kind": "enterprise", "subject": "x"}, headers=internal_headers())
    assert bad_kind.status_code == 422
    too_long = await refresh(client, "ort_" + "a" * 200)
    assert too_long.status_code == 422


async def test_the_pruner_deletes_families_past_their_lifetime_with_their_tokens(
        client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    ended = await start(client, "consumer", consumer_subject())
    alive = await start(client, "consumer", consumer_subject())
    async with sessionmaker() as session, session.begin():
        await session.execute(update(SessionFamily).where(SessionFamily.id == ended["family_id"])
                              .values(expires_at=utcnow() - timedelta(minutes=1)))
    async with sessionmaker() as session, session.begin():
        assert await prune_ended(session, utcnow()) >= 1
    async with sessionmaker() as session:
        assert await session.get(SessionFamily, ended["family_id"]) is None
        tokens = (await session.execute(select(RefreshToken).where(RefreshToken.family_id == ended["family_id"])
                                        )).scalars().all()
        assert tokens == []
        assert await session.get(SessionFamily, alive["family_id"]) is not None
