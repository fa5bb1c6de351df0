"""Messages between participants, read receipts and the live stream (server-sent events over real HTTP)."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from fastapi import FastAPI
from mediation_testkit import ApplyEvent, bearer, count_rows, next_sse_event, open_case, outbox_events, serve_http
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.messages.models import body_context
from mediation.settings import MediationSettings
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens


async def test_parties_exchange_messages_and_read_receipts(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-msg")
    consumer, merchant = bearer(tokens.consumer("consumer-msg")), bearer(tokens.merchant(merchant_id))
    first = await client.post(f"/v1/consumer/cases/{case_id}/messages", json={"text": "请尽快退款"}, headers=consumer)
    assert first.status_code == 201, first.text
    reply = await client.post(f"/v1/merchant/cases/{case_id}/messages", json={"text": "已安排"}, headers=merchant)
    assert reply.status_code == 201
    assert (first.json()["author_role"], reply.json()["author_role"]) == ("consumer", "enterprise")

    receipt = await client.post(f"/v1/consumer/cases/{case_id}/messages/read", json={"up_to": reply.json()["id"]},
                                headers=consumer)
    assert receipt.status_code == 200
    # Receipts only move forward.
    await client.post(f"/v1/consumer/cases/{case_id}/messages/read", json={"up_to": first.json()["id"]},
                      headers=consumer)
    detail = (await client.get(f"/v1/merchant/cases/{case_id}", headers=merchant)).json()
    assert [message["text"] for message in detail["messages"]] == ["请尽快退款", "已安排"]
    assert [(item["reader_role"], item["last_read_message_id"]) for item in detail["read_receipts"]] == [
        ("consumer", reply.json()["id"])]
    posted = [payload for event, payload in await outbox_events(sessionmaker, case_id)
              if event == "mediation.case.message_posted.v1"]
    assert [payload["author_role"] for payload in posted] == ["consumer", "enterprise"]

    stranger = await client.post(f"/v1/consumer/cases/{case_id}/messages", json={"text": "hi"},
                                 headers=bearer(tokens.consumer("consumer-other")))
    assert stranger.status_code == 404


@pytest.mark.parametrize("message", ["x" * 4_001, "满" * 100_000, "", None])
async def test_oversized_or_empty_messages_are_problems_and_write_nothing(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens, message: str | None
) -> None:
    case_id = await open_case(apply_event, sessionmaker, merchant_id=uuid.uuid4(), consumer_id="consumer-big")
    before = await count_rows(sessionmaker, case_id)
    response = await client.post(f"/v1/consumer/cases/{case_id}/messages", json={"text": message},
                                 headers=bearer(tokens.consumer("consumer-big")))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.text"
    assert await count_rows(sessionmaker, case_id) == before


async def test_the_stream_delivers_messages_offers_and_changes_from_any_connection(
    app: FastAPI, client: httpx.AsyncClient, apply_event: ApplyEvent,
    sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-live")
    merchant = bearer(tokens.merchant(merchant_id))
    async with serve_http(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        forbidden = await http.get(f"/v1/consumer/cases/{case_id}/stream",
                                   headers=bearer(tokens.consumer("consumer-else")))
        assert forbidden.status_code == 404
        async with http.stream("GET", f"/v1/consumer/cases/{case_id}/stream",
                               headers=bearer(tokens.consumer("consumer-live"))) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            async with asyncio.timeout(20):
                assert await next_sse_event(lines) == ("ready", {"case_id": case_id})
                posted = await client.post(f"/v1/merchant/cases/{case_id}/messages", json={"text": "您好"},
                                           headers=merchant)
                event, data = await next_sse_event(lines)
                assert event == "message"
                assert data["message"] == posted.json()
                offer = await client.post(f"/v1/merchant/cases/{case_id}/offers", json={"type": "apology"},
                                          headers=merchant)
                assert await next_sse_event(lines) == ("offer", {"case_id": case_id, "kind": "offer",
                                                                 "ref": offer.json()["id"]})
                # A notice from another process: any connection to the database reaches this stream.
                async with sessionmaker() as session, session.begin():
                    await session.execute(text("SELECT pg_notify('mediation_case_feed', :payload)"), {
                        "payload": f'{{"case_id": "{case_id}", "kind": "status", "ref": null}}'})
                assert await next_sse_event(lines) == ("status", {"case_id": case_id, "kind": "status",
                                                                  "ref": None})


async def test_a_message_is_kept_encrypted_and_read_back(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens, settings: MediationSettings
) -> None:
    case_id = await open_case(apply_event, sessionmaker, merchant_id=uuid.uuid4(), consumer_id="consumer-sealed")
    written = f"我住格尔木市昆仑路{secrets.randbelow(900) + 100}号，电话139{secrets.randbelow(10**8):08d}"
    consumer = bearer(tokens.consumer("consumer-sealed"))
    posted = await client.post(f"/v1/consumer/cases/{case_id}/messages", json={"text": written}, headers=consumer)
    assert posted.status_code == 201, posted.text
    assert posted.json()["text"] == written
    detail = (await client.get(f"/v1/consumer/cases/{case_id}", headers=consumer)).json()
    assert [message["text"] for message in detail["messages"]] == [written]

    async with sessionmaker() as session:
        row = (await session.execute(text("SELECT m::text AS whole, body_enc FROM case_message m WHERE id = :id"),
                                     {"id": posted.json()["id"]})).one()
    assert written not in row.whole
    assert written.encode().hex() not in row.whole
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    message_id = uuid.UUID(posted.json()["id"])
    assert cipher.decrypt(row.body_enc, context=body_context(message_id)) == written
    with pytest.raises(InvalidTag):
        cipher.decrypt(row.body_enc, context=body_context(uuid.uuid4()))
