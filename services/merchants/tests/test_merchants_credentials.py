"""The internal credential check the gateway's token endpoint relies on."""

from __future__ import annotations

import uuid

import httpx
from merchants_testkit import VERIFY, ApproveMerchant, internal_headers
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.access import service as access_service
from merchants.credentials import service as credentials_service
from merchants.credentials.models import StaffRole


def client_grant(client_id: str, client_secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}


async def test_right_secret_returns_enterprise_claims(client: httpx.AsyncClient,
                                                      approved_merchant: ApproveMerchant) -> None:
    issued = await approved_merchant()
    response = await client.post(VERIFY, json=client_grant(issued.client_id, issued.client_secret),
                                 headers=internal_headers())
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": issued.client_id, "aud": "merchant", "roles": ["enterprise"],
                               "merchant_id": str(issued.merchant_id), "client_id": issued.client_id,
                               "region": "632801"}
    assert issued.client_id.startswith("odr_")


async def test_wrong_secret_is_401(client: httpx.AsyncClient, approved_merchant: ApproveMerchant) -> None:
    issued = await approved_merchant()
    response = await client.post(VERIFY, json=client_grant(issued.client_id, issued.client_secret + "x"),
                                 headers=internal_headers())
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/unauthenticated"


async def test_unknown_client_gets_the_same_401(client: httpx.AsyncClient) -> None:
    response = await client.post(VERIFY, json=client_grant("odr_nobody", "whatever"), headers=internal_headers())
    assert response.status_code == 401
    assert response.json()["detail"] == "The credentials are not valid"


async def test_secret_hash_is_stored_not_the_secret(sessionmaker: async_sessionmaker[AsyncSession],
                                                    approved_merchant: ApproveMerchant) -> None:
    issued = await approved_merchant()
    async with sessionmaker() as session:
        stored = await session.scalar(text("SELECT secret_hash FROM api_client WHERE client_id = :id"),
                                      {"id": issued.client_id})
    assert stored is not None
    assert stored.startswith("scrypt$")
    assert issued.client_secret not in stored


async def test_revoked_client_is_401_and_its_replacement_works(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], approved_merchant: ApproveMerchant
) -> None:
    old = await approved_merchant()
    async with sessionmaker() as session:
        new = (await access_service.rotate_api_client(session, merchant_id=old.merchant_id)).issued
    revoked = await client.post(VERIFY, json=client_grant(old.client_id, old.client_secret), headers=internal_headers())
    assert revoked.status_code == 401
    current = await client.post(VERIFY, json=client_grant(new.client_id, new.client_secret),
                                headers=internal_headers())
    assert current.status_code == 200
    assert current.json()["merchant_id"] == str(old.merchant_id)


async def test_suspended_enrollment_is_401(client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession],
                                           approved_merchant: ApproveMerchant) -> None:
    issued = await approved_merchant()
    grant = client_grant(issued.client_id, issued.client_secret)
    assert (await client.post(VERIFY, json=grant, headers=internal_headers())).status_code == 200
    # Suspension has no use case yet (issue 4); the credential check must honour the state all the same.
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE enrollment SET status = 'suspended' WHERE merchant_id = :id"),
                              {"id": issued.merchant_id})
    assert (await client.post(VERIFY, json=grant, headers=internal_headers())).status_code == 401


async def test_missing_or_wrong_internal_token_is_403(client: httpx.AsyncClient,
                                                      approved_merchant: ApproveMerchant) -> None:
    issued = await approved_merchant()
    grant = client_grant(issued.client_id, issued.client_secret)
    missing = await client.post(VERIFY, json=grant)
    wrong = await client.post(VERIFY, json=grant, headers={"X-Internal-Token": "guess"})
    assert missing.status_code == wrong.status_code == 403
    assert missing.json()["type"] == "/problems/forbidden"


async def test_password_grant_returns_staff_claims_and_refuses_wrong_or_disabled(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    username = f"staff-{uuid.uuid4().hex[:8]}"
    station_id = uuid.uuid4()
    async with sessionmaker() as session:
        await credentials_service.upsert_staff_account(
            session, username=username, password="correct horse", role=StaffRole.STATION_STAFF.value,
            region_code="632801", display_name="昆仑市场维权服务站", station_id=station_id)
    grant = {"grant_type": "password", "username": username, "password": "correct horse"}
    good = await client.post(VERIFY, json=grant, headers=internal_headers())
    assert good.status_code == 200, good.text
    assert good.json() == {"sub": username, "aud": "regulator", "roles": ["station_staff"], "region": "632801",
                           "station_id": str(station_id), "setup_required": []}
    wrong = await client.post(VERIFY, json={**grant, "password": "wrong"}, headers=internal_headers())
    unknown = await client.post(VERIFY, json={**grant, "username": "nobody"}, headers=internal_headers())
    assert wrong.status_code == unknown.status_code == 401
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE staff_account SET disabled_at = now() WHERE username = :u"),
                              {"u": username})
    disabled = await client.post(VERIFY, json=grant, headers=internal_headers())
    assert disabled.status_code == 401


async def test_malformed_grants_are_422(client: httpx.AsyncClient) -> None:
    unknown_grant = await client.post(VERIFY, json={"grant_type": "otp", "phone": "13800138000"},
                                      headers=internal_headers())
    extra_field = await client.post(VERIFY, json={**client_grant("odr_x", "y"), "scope": "all"},
                                    headers=internal_headers())
    missing_secret = await client.post(VERIFY, json={"grant_type": "client_credentials", "client_id": "odr_x"},
                                       headers=internal_headers())
    for response in (unknown_grant, extra_field, missing_secret):
        assert response.status_code == 422
        assert response.json()["type"] == "/problems/validation-error"
