"""The consumer's personal data in mediation: their export, and the erasure the complaints service announces with
`personal_data_erased.v1` once a closed case is past its retention period.

Erasure empties mediation's copies of the complainant (name, masked phone), the facts, the order number and the
shared evidence list, the text of every message the consumer wrote, their notes on fulfilment proofs, what they wrote
on the case trail (`case_event.written_enc` of their rows: an offer answer's note, an escalation's, a fulfilment
answer's) and the names and files of what they uploaded;
the case row, its clocks, offers, agreement and every coded column stay, so the outcome audit's figures do not move.
The hash chain stays verifiable because erasure touches nothing it covers: an entry holds ids, codes, amounts,
instants and the written text of the enterprise (a proof's reference) or of staff (a reviewer's note), never the
consumer's; an agreement's content hash covers its terms (with the offer's note, the consumer's own when the
enterprise accepted their counter: it is the contract, kept whole), consents (by token subject) and mediation record.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.agreements.models import SettlementAgreement
from mediation.casefile.service import case_detail
from mediation.cases import trail
from mediation.cases.models import MediationCase, complainant_name_context, facts_context
from mediation.fulfilment.models import FulfilmentProof
from mediation.messages.models import CaseAttachment, CaseMessage, body_context
from mediation.negotiation.models import Offer, Party
from mediation.personal_data.schemas import MediationPersonalData
from servicekit.db import utcnow
from servicekit.pii import PiiCipher
from servicekit.uploads import FileStore

CONSUMER_ROLE = "consumer"


async def export(session: AsyncSession, *, consumer_id: str, cipher: PiiCipher) -> MediationPersonalData:
    """Every case of the consumer in full, in one read-only transaction."""
    async with session.begin():
        cases = (await session.execute(select(MediationCase).where(MediationCase.consumer_id == consumer_id)
                                       .order_by(MediationCase.id))).scalars().all()
        details = [await case_detail(session, case, cipher) for case in cases]
    return MediationPersonalData(consumer_id=consumer_id, exported_at=utcnow(), cases=details)


async def erase_of_complaint(session: AsyncSession, *, complaint_id: uuid.UUID, cipher: PiiCipher,
                             store: FileStore) -> bool:
    """Erase the consumer's personal data from the case of a complaint, in the inbox consumer's transaction; True
    if there was a case. Running it again changes nothing more (the inbox drops a repeated event anyway). Files are
    deleted before the commit: should the commit fail, the event comes again and finds the rows to finish with."""
    case = (await session.execute(select(MediationCase).where(MediationCase.complaint_id == complaint_id)
                                  .with_for_update())).scalar_one_or_none()
    if case is None:
        return False
    case.complainant_name = cipher.encrypt("", context=complainant_name_context(case.id))
    case.complainant_phone_masked = ""
    case.facts_enc = cipher.encrypt("", context=facts_context(case.id))
    case.order_no = None
    case.shared_evidence = []
    messages = (await session.execute(select(CaseMessage.id).where(
        CaseMessage.case_id == case.id, CaseMessage.author_role == CONSUMER_ROLE))).scalars().all()
    for message_id in messages:
        await session.execute(update(CaseMessage).where(CaseMessage.id == message_id)
                              .values(body_enc=cipher.encrypt("", context=body_context(message_id))))
    await trail.erase_consumer_text(session, case.id)
    # A counter-offer of the consumer's that no agreement came from is no contract: its note goes too.
    await session.execute(update(Offer).where(
        Offer.case_id == case.id, Offer.made_by == Party.CONSUMER.value, Offer.note_enc.is_not(None),
        Offer.id.not_in(select(SettlementAgreement.offer_id).where(SettlementAgreement.case_id == case.id)),
    ).values(note_enc=None))
    # Only the consumer answers a fulfilment proof, so every answer note is theirs.
    await session.execute(update(FulfilmentProof).where(FulfilmentProof.agreement_id.in_(
        select(SettlementAgreement.id).where(SettlementAgreement.case_id == case.id))).values(answer_note_enc=None))
    uploads = (await session.execute(
        delete(CaseAttachment).where(CaseAttachment.case_id == case.id, CaseAttachment.uploader_role == CONSUMER_ROLE)
        .returning(CaseAttachment.storage_key))).scalars().all()
    for storage_key in uploads:
        await store.delete(storage_key)
    await session.flush()
    return True
