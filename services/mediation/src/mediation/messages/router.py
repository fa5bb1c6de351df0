"""Messages, read receipts and the live stream of a case, for every participant."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sse_starlette import EventSourceResponse

from mediation.cases.access import load_case_for
from mediation.cases.views import message_read, receipt_read
from mediation.dependencies import DbSession, Feed, OutboxDep, Sessionmaker
from mediation.live import CaseFeed
from mediation.messages import service as messages_service
from mediation.messages.models import CaseMessage
from mediation.messages.schemas import MessageCreate, MessageRead, ReadReceiptCreate, ReadReceiptRead
from servicekit.auth import ConsumerPrincipal, MerchantPrincipal, Principal, RegulatorPrincipal
from servicekit.db import utcnow
from servicekit.events.outbox import Outbox

router = APIRouter(prefix="/v1", tags=["messages"])

PING_SECONDS = 15


async def _post(case_id: uuid.UUID, body: MessageCreate, principal: Principal, session: AsyncSession,
                outbox: Outbox) -> MessageRead:
    message = await messages_service.post_message(session, outbox=outbox, case_id=case_id, principal=principal,
                                                  text=body.text, now=utcnow())
    return message_read(message)


async def _read(case_id: uuid.UUID, body: ReadReceiptCreate, principal: Principal,
                session: AsyncSession) -> ReadReceiptRead:
    marker = await messages_service.mark_read(session, case_id=case_id, principal=principal, up_to=body.up_to,
                                              now=utcnow())
    return receipt_read(marker)


async def _notices(feed: CaseFeed, sessionmaker: async_sessionmaker[AsyncSession],
                   case_id: uuid.UUID) -> AsyncIterator[dict[str, str]]:
    with feed.subscribe(case_id) as queue:
        await feed.listening.wait()
        yield {"event": "ready", "data": json.dumps({"case_id": str(case_id)})}
        while True:
            notice = await queue.get()
            if notice["kind"] == "message":
                async with sessionmaker() as session:
                    message = await session.get(CaseMessage, uuid.UUID(notice["ref"]))
                if message is not None:
                    notice = {**notice, "message": message_read(message).model_dump(mode="json")}
            yield {"event": notice["kind"], "data": json.dumps(notice, ensure_ascii=False)}


async def _stream(case_id: uuid.UUID, principal: Principal, session: AsyncSession, feed: CaseFeed,
                  sessionmaker: async_sessionmaker[AsyncSession]) -> EventSourceResponse:
    await load_case_for(session, case_id, principal)
    # The stream may stay open for hours; it must not hold a pooled connection meanwhile.
    await session.close()
    return EventSourceResponse(_notices(feed, sessionmaker, case_id), ping=PING_SECONDS)


@router.post("/consumer/cases/{case_id}/messages", status_code=status.HTTP_201_CREATED, summary="Write to the case")
async def consumer_post_message(case_id: uuid.UUID, body: MessageCreate, principal: ConsumerPrincipal,
                                session: DbSession, outbox: OutboxDep) -> MessageRead:
    """Text up to 4,000 characters; every participant's stream shows it."""
    return await _post(case_id, body, principal, session, outbox)


@router.post("/merchant/cases/{case_id}/messages", status_code=status.HTTP_201_CREATED, summary="Write to the case")
async def merchant_post_message(case_id: uuid.UUID, body: MessageCreate, principal: MerchantPrincipal,
                                session: DbSession, outbox: OutboxDep) -> MessageRead:
    """Text up to 4,000 characters; every participant's stream shows it."""
    return await _post(case_id, body, principal, session, outbox)


@router.post("/regulator/cases/{case_id}/messages", status_code=status.HTTP_201_CREATED, summary="Write to the case")
async def regulator_post_message(case_id: uuid.UUID, body: MessageCreate, principal: RegulatorPrincipal,
                                 session: DbSession, outbox: OutboxDep) -> MessageRead:
    """The mediator or regulator staff of the region write to both parties."""
    return await _post(case_id, body, principal, session, outbox)


@router.post("/consumer/cases/{case_id}/messages/read", summary="Read receipt up to a message")
async def consumer_mark_read(case_id: uuid.UUID, body: ReadReceiptCreate, principal: ConsumerPrincipal,
                             session: DbSession) -> ReadReceiptRead:
    """Moves forward only."""
    return await _read(case_id, body, principal, session)


@router.post("/merchant/cases/{case_id}/messages/read", summary="Read receipt up to a message")
async def merchant_mark_read(case_id: uuid.UUID, body: ReadReceiptCreate, principal: MerchantPrincipal,
                             session: DbSession) -> ReadReceiptRead:
    """Moves forward only."""
    return await _read(case_id, body, principal, session)


@router.post("/regulator/cases/{case_id}/messages/read", summary="Read receipt up to a message")
async def regulator_mark_read(case_id: uuid.UUID, body: ReadReceiptCreate, principal: RegulatorPrincipal,
                              session: DbSession) -> ReadReceiptRead:
    """Moves forward only."""
    return await _read(case_id, body, principal, session)


@router.get("/consumer/cases/{case_id}/stream", summary="Server-sent events of the case (messages, offers, status)")
async def consumer_stream(case_id: uuid.UUID, principal: ConsumerPrincipal, session: DbSession, feed: Feed,
                          sessionmaker: Sessionmaker) -> EventSourceResponse:
    """`ready` once subscribed, then `message`, `offer`, `read` and `status` events."""
    return await _stream(case_id, principal, session, feed, sessionmaker)


@router.get("/merchant/cases/{case_id}/stream", summary="Server-sent events of the case (messages, offers, status)")
async def merchant_stream(case_id: uuid.UUID, principal: MerchantPrincipal, session: DbSession, feed: Feed,
                          sessionmaker: Sessionmaker) -> EventSourceResponse:
    """`ready` once subscribed, then `message`, `offer`, `read` and `status` events."""
    return await _stream(case_id, principal, session, feed, sessionmaker)


@router.get("/regulator/cases/{case_id}/stream", summary="Server-sent events of the case (messages, offers, status)")
async def regulator_stream(case_id: uuid.UUID, principal: RegulatorPrincipal, session: DbSession, feed: Feed,
                           sessionmaker: Sessionmaker) -> EventSourceResponse:
    """`ready` once subscribed, then `message`, `offer`, `read` and `status` events."""
    return await _stream(case_id, principal, session, feed, sessionmaker)
