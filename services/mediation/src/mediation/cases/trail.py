"""What every state change writes besides the state: the audit row, the event and its shared fields, the live-feed
notice."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases.access import Actor
from mediation.cases.models import CaseEvent, MediationCase
from mediation.settings import EVENT_SOURCE
from servicekit.db import new_id
from servicekit.events.envelope import EventEnvelope
from servicekit.notify import notify_after_commit
from servicekit.pii import PiiCipher

FEED_CHANNEL = "mediation_case_feed"
# Detail keys of the trail that hold what a person wrote.
WRITTEN_KEYS = ("note", "reference")
# The declaration the trail's trigger asks of the one update it allows (migration 0010): an erasure, which may only
# empty `written_enc` on the consumer's own rows. It is set for the erasure's statement only, not for the rest of
# the transaction (an inbox batch applies other events in the same one).
_DECLARE_ERASURE = text("SELECT set_config('odr.erasure', 'on', true)")
_END_ERASURE = text("SELECT set_config('odr.erasure', 'off', true)")


async def record(session: AsyncSession, case: MediationCase, *, kind: str, actor: Actor, at: datetime,
                 details: dict[str, Any] | None = None, cipher: PiiCipher | None = None) -> None:
    """Append the audit row of a change to the case, in the caller's transaction. The details a person wrote
    (WRITTEN_KEYS: a note, a proof's reference) are kept only sealed, as one JSON document in `written_enc`
    ("case_event:<id>:written"); a caller passing any must pass the cipher."""
    row_id = new_id()
    clear = dict(details or {})
    written = {key: clear.pop(key) for key in WRITTEN_KEYS if clear.get(key) is not None}
    clear = {key: value for key, value in clear.items() if key not in WRITTEN_KEYS}
    sealed = None
    if written:
        if cipher is None:
            raise ValueError(f"case event {kind} carries written text but no cipher to seal it with")
        sealed = cipher.encrypt(json.dumps(written, ensure_ascii=False), context=f"case_event:{row_id}:written")
    await session.execute(insert(CaseEvent).values(
        id=row_id, case_id=case.id, at=at, kind=kind, actor_role=actor.role, actor_id=actor.id,
        details=clear, written_enc=sealed))


async def erase_consumer_text(session: AsyncSession, case_id: uuid.UUID) -> None:
    """Empty what the consumer wrote on the case's trail (an offer answer's note, a fulfilment answer's note, an
    escalation's note), in the caller's transaction. The rows themselves stay: who did what and when is the case's
    record, and the trail's trigger refuses any other change."""
    await session.execute(_DECLARE_ERASURE)
    await session.execute(update(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.actor_role == "consumer", CaseEvent.written_enc.is_not(None))
        .values(written_enc=None).execution_options(synchronize_session=False))
    await session.execute(_END_ERASURE)


def event_fields(case: MediationCase, at: datetime) -> dict[str, Any]:
    """The fields every mediation case event carries."""
    return {"case_id": case.id, "complaint_id": case.complaint_id, "merchant_id": case.merchant_id,
            "region_code": case.region_code, "at": at}


def envelope(contract: Any, cause: EventEnvelope | None = None) -> EventEnvelope:
    """The event of a case change; one caused by an incoming event carries its correlation and causation ids."""
    if cause is None:
        return contract.envelope(source=EVENT_SOURCE)  # type: ignore[no-any-return]
    return contract.envelope(  # type: ignore[no-any-return]
        source=EVENT_SOURCE, correlationid=cause.correlationid, causationid=str(cause.id))


def notify(session: AsyncSession, case_id: uuid.UUID, kind: str, ref: uuid.UUID | None = None) -> None:
    """Tell every process's live streams that the case changed, once the transaction has committed."""
    payload = json.dumps({"case_id": str(case_id), "kind": kind, "ref": str(ref) if ref else None})
    notify_after_commit(session, FEED_CHANNEL, payload)
