"""The consumer's personal data: one export of everything this service holds about them, and its erasure once a
case is closed and past its retention period (PIPL Art. 45, 47).

Erasure empties every column that names, locates or quotes the people of a case (the parties, the facts, the order
number, the rating text, the evidence and its file names, the consultation it came from, its text messages, and the
copies of them in this service's outbox) and keeps the case row with every coded column the statistics read, so
every figure stays the same. `personal_data_erased.v1` carries the erasure to mediation and merchants, which erase
their copies. The files are deleted after the commit: a crash in between leaves a file no row names, never a row
naming a missing file.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints.access import service as access_service
from complaints.complaint import service as complaint_service
from complaints.complaint.enums import ActorRole
from complaints.complaint.models import pii_context
from complaints.complaint.state import FINAL, Actor, annotate, complaint_table, lock
from complaints.consultation import service as consultation_service
from complaints.database import outbox as outbox_table
from complaints.evidence import service as evidence_service
from complaints.evidence.schemas import EvidenceRead
from complaints.notifications import service as notification_service
from complaints.personal_data.schemas import ComplaintsPersonalData, ErasureRead, TextMessageRead
from complaints.personal_data.state import ensure_erasable
from complaints.publisher import Publisher
from servicekit.contracts.complaints_v1 import PersonalDataErased
from servicekit.db import utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.observability import get_logger
from servicekit.pii import PiiCipher
from servicekit.problems import Problem
from servicekit.uploads import FileStore

log = get_logger("complaints.personal_data")

# The case's columns that hold personal data, and what each becomes (the required facts: sealed empty, per case).
ERASED_COLUMNS: dict[str, Any] = {
    "complainant_name_enc": None, "complainant_phone_enc": None, "complainant_address_enc": None,
    "complainant_id_number_enc": None, "phone_index": None, "address_index": None, "parties_enc": None,
    "purchase_order_no": None, "rating_text_enc": None,
}
# What the events of this service carried of the people of a case (routed.v1, accepted.v1), and what each becomes
# in the outbox rows still kept: the shape stays valid, so a re-publication after a broker restart still parses.
ERASED_EVENT_FIELDS: dict[str, Any] = {
    "facts": "", "facts_sealed": None, "order_no": None, "evidence": [],
    "complainant": {"name": "", "phone_masked": "", "name_sealed": None},
}
ERASURE_BATCH = 100


async def export(session: AsyncSession, *, consumer_id: str, cipher: PiiCipher) -> ComplaintsPersonalData:
    """Everything this service holds about the consumer, in one read-only transaction."""
    async with session.begin():
        rows = (await session.execute(
            select(complaint_table).where(*complaint_service.consumer_conditions(consumer_id))
            .order_by(complaint_table.c.id))).mappings().all()
        complaint_ids = [row["id"] for row in rows]
        complaints = [(await complaint_service.versioned(session, row, cipher)).detail for row in rows]
        evidence = [EvidenceRead.model_validate(found)
                    for found in await evidence_service.uploaded_by(session, cipher, consumer_id)]
        consultations = await consultation_service.all_for_consumer(session, consumer_id=consumer_id, cipher=cipher)
        access_log = await access_service.log_of_cases(session, complaint_ids=complaint_ids)
        messages = await notification_service.messages_of_cases(session, cipher, complaint_ids)
    return ComplaintsPersonalData(
        consumer_id=consumer_id, exported_at=utcnow(), complaints=complaints, evidence=evidence,
        consultations=consultations, access_log=access_log,
        text_messages=[TextMessageRead(complaint_id=message.complaint_id, template=message.template,
                                       text=message.text, status=message.status, created_at=message.created_at,
                                       sent_at=message.sent_at) for message in messages])


async def erase_for_consumer(session: AsyncSession, *, complaint_id: uuid.UUID, consumer_id: str,
                             publisher: Publisher, cipher: PiiCipher, store: FileStore,
                             retention: timedelta) -> ErasureRead:
    """The consumer erases the personal data of one of their cases; 404 for anyone else's, 409 while the case is
    open or within its retention period, or once erased."""
    async with session.begin():
        case = await lock(session, complaint_id)
        if case is None or case["consumer_id"] != consumer_id:
            raise Problem("not-found", "No such complaint")
        now = utcnow()
        ensure_erasable(case, now=now, retention=retention)
        erased, storage_keys = await _erase(session, case=case, actor=Actor(ActorRole.CONSUMER, consumer_id),
                                            at=now, publisher=publisher, cipher=cipher)
    await _delete_files(store, storage_keys)
    return ErasureRead(complaint_id=erased["id"], case_no=erased["case_no"],
                       personal_data_erased_at=erased["personal_data_erased_at"])


async def erase_expired(sessionmaker: async_sessionmaker[AsyncSession], *, publisher: Publisher, cipher: PiiCipher,
                        store: FileStore, retention: timedelta, now: datetime | None = None,
                        batch: int = ERASURE_BATCH) -> int:
    """The erasure job's pass: erase every closed case past its retention period, a batch per transaction, until
    none is left; replicas may run it side by side (SKIP LOCKED). Returns how many cases were erased."""
    erased = 0
    while True:
        at = now or utcnow()
        async with sessionmaker() as session, session.begin():
            cases = (await session.execute(
                select(complaint_table)
                .where(complaint_table.c.status.in_([status.value for status in FINAL]),
                       complaint_table.c.closed_at.is_not(None), complaint_table.c.closed_at <= at - retention,
                       complaint_table.c.personal_data_erased_at.is_(None))
                .order_by(complaint_table.c.closed_at).limit(batch).with_for_update(skip_locked=True)
            )).mappings().all()
            storage_keys: list[str] = []
            for case in cases:
                _, keys = await _erase(session, case=case, actor=Actor(ActorRole.SYSTEM), at=at,
                                       publisher=publisher, cipher=cipher)
                storage_keys += keys
        await _delete_files(store, storage_keys)
        erased += len(cases)
        if len(cases) < batch:
            return erased


async def _erase(session: AsyncSession, *, case: RowMapping, actor: Actor, at: datetime, publisher: Publisher,
                 cipher: PiiCipher) -> tuple[RowMapping, list[str]]:
    """Erase a locked case's personal data in the caller's transaction: the row's personal columns, its evidence
    rows, its consultation's asker and words, its text messages and its outbox copies, with a timeline row and the
    event; returns the updated row and the storage keys of the files to delete after the commit."""
    storage_keys = await evidence_service.erase_of_case(session, case["id"])
    await consultation_service.erase_of_complaint(session, complaint_id=case["id"], cipher=cipher)
    await notification_service.erase_of_case(session, case["id"])
    await _scrub_outbox(session, case["id"])

    def events(row: RowMapping) -> list[EventEnvelope]:
        return [PersonalDataErased(complaint_id=row["id"], region_code=row["region_code"],
                                   merchant_id=row["merchant_id"], erased_at=at).envelope(source=publisher.source)]

    emptied_facts = cipher.encrypt("", context=pii_context(case["id"], "facts"))
    erased = await annotate(session, case=case, actor=actor, at=at, publisher=publisher, events=events,
                            code="personal_data_erased", note="Personal data erased after the retention period",
                            changes={**ERASED_COLUMNS, "facts_enc": emptied_facts, "personal_data_erased_at": at})
    return erased, storage_keys


async def _scrub_outbox(session: AsyncSession, complaint_id: uuid.UUID) -> None:
    """Empty the personal fields of the case's events this service still keeps in its outbox."""
    rows = (await session.execute(
        select(outbox_table.c.seq, outbox_table.c.payload)
        .where(outbox_table.c.aggregate_id == str(complaint_id)))).all()
    for seq, payload in rows:
        scrubbed = {name: ERASED_EVENT_FIELDS.get(name, value) for name, value in payload.items()}
        if scrubbed != payload:
            await session.execute(outbox_table.update().where(outbox_table.c.seq == seq).values(payload=scrubbed))


async def _delete_files(store: FileStore, storage_keys: Sequence[str]) -> None:
    for key in storage_keys:
        try:
            await store.delete(key)
        except OSError:
            # The row naming the file is gone already; a file left behind names no one and is reported to be removed.
            log.warning("evidence file not deleted", storage_key=key)
