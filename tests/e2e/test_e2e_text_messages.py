"""Text messages on the running platform: the gateway's sign-in code and the notice of a complaint routed to the
enterprise leave the complaints service's SMS outbox through the development sender, each once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from odr_runner.stack import Stack
from servicekit.db import utcnow


async def test_a_sign_in_code_and_a_routing_notice_are_sent_once_by_the_development_sender(
    e2e_stack: Stack, gateway: httpx.AsyncClient, complaint_body: Callable[..., dict[str, Any]],
    database_dsn: Callable[[str], str], eventually: Callable[..., Any],
) -> None:
    started = utcnow()
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    otp = await gateway.post("/auth/otp", json={"phone": phone})
    assert otp.status_code == 202, otp.text
    token = await gateway.post("/auth/token", data={"grant_type": "otp", "phone": phone,
                                                    "code": otp.json()["dev_code"]})
    assert token.status_code == 200, token.text
    body = complaint_body()
    body["complainant"] = {**body["complainant"], "phone": phone}
    filed = await gateway.post("/v1/consumer/complaints", json=body,
                               headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert filed.status_code == 201, filed.text
    assert filed.json()["status"] == "with_merchant"

    connection = await asyncpg.connect(database_dsn("complaints"))
    try:
        async def messages() -> list[tuple[str, str, str | None, int]] | None:
            rows = await connection.fetch(
                "SELECT template, status, provider, attempts FROM sms_outbox "
                "WHERE (template = 'sign_in_code' AND created_at >= $1) OR complaint_id = $2 ORDER BY created_at",
                started, uuid.UUID(filed.json()["id"]))
            found = [(row["template"], row["status"], row["provider"], row["attempts"]) for row in rows]
            return found if found and all(status == "sent" for _, status, _, _ in found) else None

        sent = await eventually(messages, what="both messages sent")
    finally:
        await connection.close()
    assert sent == [("sign_in_code", "sent", "dev", 1), ("routed_to_enterprise", "sent", "dev", 1)]
