"""Suspension, reinstatement, revocation, credential rotation and the revocation check the gateway polls."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from merchants_testkit import VERIFY, ApproveMerchant, internal_headers
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.settings import MerchantsSettings
from servicekit.contracts.merchants_v1 import EnrollmentStatusChanged
from servicekit.pii import PiiCipher, open_from_event
from servicekit.testing.plugin import Tokens

# The tests' settings keep the default PII key.
CIPHER = PiiCipher(MerchantsSettings().pii_key.get_secret_value())

MERCHANTS = "/v1/regulator/merchants"
ROTATE = "/v1/merchant/credentials/rotate"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def grant(client_id: str, client_secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}


async def active(client: httpx.AsyncClient, client_id: str) -> bool:
    response = await client.get(f"/internal/v1/principals/{client_id}/active", headers=internal_headers())
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == client_id
    value: bool = response.json()["active"]
    return value


async def outbox_types(sessionmaker: async_sessionmaker[AsyncSession], merchant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """(event type, reason) of the enterprise's events; the reason travels only sealed."""
    async with sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT event_type, payload FROM outbox WHERE aggregate_id = :id ORDER BY id"),
            {"id": str(merchant_id)})).all()
    context = EnrollmentStatusChanged.reason_context(merchant_id)
    assert all(payload.get("reason") is None for _, payload in rows)
    return [(event_type, open_from_event(CIPHER, payload["reason_sealed"], context=context)
             if payload.get("reason_sealed") else None) for event_type, payload in rows]


async def test_suspend_reinstate_revoke_follow_the_table_and_announce_each_move(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    issued = await approved_merchant()
    regulator = bearer(tokens.regulator("632801"))
    url = f"{MERCHANTS}/{issued.merchant_id}"
    assert await active(client, issued.client_id)

    reinstate_approved = await client.post(f"{url}/reinstate", json={"reason": "x"}, headers=regulator)
    assert reinstate_approved.status_code == 409
    assert reinstate_approved.json()["current_status"] == "approved"

    suspended = await client.post(f"{url}/suspend", json={"reason": "逾期未处理投诉过多"}, headers=regulator)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json() == {"merchant_id": str(issued.merchant_id), "status": "suspended"}
    assert not await active(client, issued.client_id)
    refused = await client.post(VERIFY, json=grant(issued.client_id, issued.client_secret), headers=internal_headers())
    assert refused.status_code == 401
    assert (await client.post(f"{url}/suspend", json={"reason": "again"}, headers=regulator)).status_code == 409

    reinstated = await client.post(f"{url}/reinstate", json={"reason": "整改完成"}, headers=regulator)
    assert reinstated.json()["status"] == "approved"
    assert await active(client, issued.client_id)

    revoked = await client.post(f"{url}/revoke", json={"reason": "严重违规"}, headers=regulator)
    assert revoked.json()["status"] == "revoked"
    assert not await active(client, issued.client_id)
    for action in ("suspend", "reinstate", "revoke"):
        assert (await client.post(f"{url}/{action}", json={"reason": "x"}, headers=regulator)).status_code == 409

    assert await outbox_types(sessionmaker, issued.merchant_id) == [
        ("merchants.enrollment.approved.v1", None),
        ("merchants.enrollment.suspended.v1", "逾期未处理投诉过多"),
        ("merchants.enrollment.reinstated.v1", "整改完成"),
        ("merchants.enrollment.revoked.v1", "严重违规"),
    ]
    async with sessionmaker() as session:
        live = await session.scalar(text(
            "SELECT count(*) FROM api_client WHERE merchant_id = :id AND revoked_at IS NULL"),
            {"id": issued.merchant_id})
        audit = (await session.scalars(text(
            "SELECT e.to_status FROM enrollment_event e JOIN enrollment n ON n.id = e.enrollment_id "
            "WHERE n.merchant_id = :id ORDER BY e.at"), {"id": issued.merchant_id})).all()
    assert live == 0
    assert audit == ["pending", "approved", "suspended", "approved", "revoked"]


async def test_status_changes_need_a_reason_and_the_right_region(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant
) -> None:
    issued = await approved_merchant()
    url = f"{MERCHANTS}/{issued.merchant_id}/suspend"
    no_reason = await client.post(url, json={"reason": "  "}, headers=bearer(tokens.regulator()))
    assert no_reason.status_code == 422
    elsewhere = await client.post(url, json={"reason": "x"}, headers=bearer(tokens.regulator("630100")))
    assert elsewhere.status_code == 404
    as_merchant = await client.post(url, json={"reason": "x"}, headers=bearer(tokens.merchant(issued.merchant_id)))
    assert as_merchant.status_code == 403
    assert await active(client, issued.client_id)


async def test_rotation_keeps_the_old_secret_working_until_the_overlap_ends(
    client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    old = await approved_merchant()
    enterprise = bearer(tokens.merchant(old.merchant_id, sub=old.client_id, client_id=old.client_id))
    rotated = await client.post(ROTATE, headers=enterprise)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["client_id"] != old.client_id
    assert new["previous_valid_until"] is not None
    for client_id, secret in ((old.client_id, old.client_secret), (new["client_id"], new["client_secret"])):
        answer = await client.post(VERIFY, json=grant(client_id, secret), headers=internal_headers())
        assert answer.status_code == 200
        assert await active(client, client_id)

    # The overlap window ends (moved into the past rather than waiting a day).
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE api_client SET expires_at = now() - interval '1 second' "
                                   "WHERE client_id = :id"), {"id": old.client_id})
    expired = await client.post(VERIFY, json=grant(old.client_id, old.client_secret), headers=internal_headers())
    assert expired.status_code == 401
    assert not await active(client, old.client_id)
    assert await active(client, new["client_id"])


async def test_a_suspended_enterprise_cannot_rotate(client: httpx.AsyncClient, tokens: Tokens,
                                                   approved_merchant: ApproveMerchant) -> None:
    issued = await approved_merchant()
    await client.post(f"{MERCHANTS}/{issued.merchant_id}/suspend", json={"reason": "x"},
                      headers=bearer(tokens.regulator()))
    rotated = await client.post(ROTATE, headers=bearer(tokens.merchant(issued.merchant_id)))
    assert rotated.status_code == 409


async def test_unknown_client_is_inactive_and_the_check_is_internal(client: httpx.AsyncClient) -> None:
    assert not await active(client, "odr_nobody")
    outside = await client.get("/internal/v1/principals/odr_nobody/active")
    assert outside.status_code == 403
