"""Posting messages and read receipts; each post notifies every process's live streams on commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases import trail
from mediation.cases.access import load_case_for
from mediation.messages import attachments
from mediation.messages.models import CaseAttachment, CaseMessage, ReadMarker, body_context
from mediation.settings import EVENT_SOURCE
from servicekit.auth import Principal
from servicekit.contracts.mediation_v1 import MessagePosted
from servicekit.db import new_id
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem


async def post_message(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                       principal: Principal, text: str, attachment_ids: Sequence[uuid.UUID], now: datetime
                       ) -> tuple[CaseMessage, list[CaseAttachment]]:
    """A participant writes to the case, with its own uploads attached; the other participants see it live."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal)
        message_id = new_id()
        message = CaseMessage(id=message_id, case_id=case.id, author_role=actor.role, author_id=actor.id,
                              body_enc=cipher.encrypt(text, context=body_context(message_id)), posted_at=now)
        session.add(message)
        await session.flush()
        attached = await attachments.claim_for_message(session, case_id=case.id, author=actor,
                                                       message_id=message.id, attachment_ids=attachment_ids)
        details: dict[str, object] = {"message_id": str(message.id)}
        if attached:
            details["attachment_sha256"] = [attachment.sha256 for attachment in attached]
        await trail.record(session, case, kind="message_posted", actor=actor, at=now, details=details)
        await outbox.add(session, MessagePosted(**trail.event_fields(case, now), message_id=message.id,
                                                author_role=actor.role, attachment_count=len(attached),
                                                ).envelope(source=EVENT_SOURCE))
        trail.notify(session, case.id, "message", message.id)
        return message, attached


async def mark_read(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal, up_to: uuid.UUID,
                    now: datetime) -> ReadMarker:
    """Move the caller's read receipt forward to `up_to` (never backwards)."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal)
        message = await session.get(CaseMessage, up_to)
        if message is None or message.case_id != case.id:
            raise Problem("not-found", "No such message in this case")
        statement = insert(ReadMarker).values(case_id=case.id, reader_role=actor.role, reader_id=actor.id,
                                              last_read_message_id=up_to, read_at=now)
        await session.execute(statement.on_conflict_do_update(
            index_elements=[ReadMarker.case_id, ReadMarker.reader_role, ReadMarker.reader_id],
            set_={"last_read_message_id": up_to, "read_at": now},
            where=ReadMarker.last_read_message_id < up_to))
        trail.notify(session, case.id, "read", up_to)
        marker = (await session.execute(select(ReadMarker).where(
            ReadMarker.case_id == case.id, ReadMarker.reader_role == actor.role, ReadMarker.reader_id == actor.id)
            .execution_options(populate_existing=True))).scalar_one()
        return marker


async def messages_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseMessage]:
    """The case's messages in posting order."""
    return list((await session.execute(select(CaseMessage).where(CaseMessage.case_id == case_id)
                                       .order_by(CaseMessage.id))).scalars())


async def read_markers_of(session: AsyncSession, case_id: uuid.UUID) -> list[ReadMarker]:
    """Every participant's read receipt on the case."""
    return list((await session.execute(select(ReadMarker).where(ReadMarker.case_id == case_id)
                                       .order_by(ReadMarker.reader_role))).scalars())
