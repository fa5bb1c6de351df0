"""Fulfilment of a settlement agreement: proof, the consumer's answer, and the sweeper for silence."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.agreements.models import FulfilmentStatus, SettlementAgreement
from mediation.audit import chain
from mediation.cases import trail
from mediation.cases.access import SYSTEM, Actor, load_case, load_case_for
from mediation.cases.models import MediationCase
from mediation.fulfilment.models import FulfilmentProof, ProofAnswer, proof_context
from mediation.fulfilment.schemas import ProofCreate
from mediation.outcomes import signals
from mediation.settings import EVENT_SOURCE
from servicekit.auth import Principal
from servicekit.calendar import end_of_day
from servicekit.contracts.mediation_v1 import FulfilmentConfirmed, FulfilmentOverdue, FulfilmentRecorded
from servicekit.db import new_id
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

BATCH = 100


async def _agreement_for_update(session: AsyncSession, case: MediationCase) -> SettlementAgreement:
    agreement = (await session.execute(select(SettlementAgreement).where(SettlementAgreement.case_id == case.id)
                                       .with_for_update().execution_options(populate_existing=True))
                 ).scalar_one_or_none()
    if agreement is None:
        raise Problem("conflict", "The case has no settlement agreement to fulfil", current_status=case.status)
    return agreement


def _require(actor: Actor, role: str) -> None:
    if actor.role != role:
        raise Problem("forbidden", f"Only the {role} may do this")


async def record_proof(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                       principal: Principal, proof: ProofCreate,
                       now: datetime) -> tuple[FulfilmentProof, SettlementAgreement]:
    """The enterprise records proof; 409 once the consumer has confirmed fulfilment."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require(actor, "enterprise")
        agreement = await _agreement_for_update(session, case)
        if agreement.fulfilment_status == FulfilmentStatus.CONFIRMED.value:
            raise Problem("conflict", "Fulfilment was already confirmed")
        proof_id = new_id()
        row = FulfilmentProof(
            id=proof_id, agreement_id=agreement.id, kind=proof.kind.value,
            reference_enc=cipher.encrypt(proof.reference, context=proof_context(proof_id, "reference")),
            note_enc=cipher.encrypt(proof.note, context=proof_context(proof_id, "note")) if proof.note else None,
            recorded_at=now, recorded_by=actor.id)
        session.add(row)
        agreement.fulfilment_status = FulfilmentStatus.RECORDED.value
        await session.flush()
        await trail.record(session, case, kind="fulfilment_recorded", actor=actor, at=now, details={
            "proof_id": str(row.id), "kind": proof.kind.value, "reference": proof.reference}, cipher=cipher)
        await outbox.add(session, FulfilmentRecorded(
            **trail.event_fields(case, now), agreement_id=agreement.id, proof_kind=proof.kind.value,
            reference_sealed=FulfilmentRecorded.seal_reference(cipher, case_id=case.id, reference=proof.reference),
        ).envelope(source=EVENT_SOURCE))
        trail.notify(session, case.id, "fulfilment", row.id)
        return row, agreement


async def answer_proof(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, case_id: uuid.UUID,
                       proof_id: uuid.UUID,
                       principal: Principal, answer: ProofAnswer, note: str | None,
                       now: datetime) -> tuple[FulfilmentProof, SettlementAgreement]:
    """The consumer confirms (fulfilled: an outcome on the audit chain) or disputes the latest proof."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal, for_update=True)
        _require(actor, "consumer")
        agreement = await _agreement_for_update(session, case)
        proof = await session.get(FulfilmentProof, proof_id, populate_existing=True)
        if proof is None or proof.agreement_id != agreement.id:
            raise Problem("not-found", "No such proof of fulfilment")
        if proof.answer is not None or agreement.fulfilment_status != FulfilmentStatus.RECORDED.value:
            raise Problem("conflict", "This proof was already answered")
        proof.answer, proof.answered_at = answer.value, now
        proof.answer_note_enc = (cipher.encrypt(note, context=proof_context(proof.id, "answer_note"))
                                 if note is not None else None)
        confirmed = answer is ProofAnswer.CONFIRMED
        agreement.fulfilment_status = (FulfilmentStatus.CONFIRMED if confirmed else FulfilmentStatus.DISPUTED).value
        await session.flush()
        await trail.record(session, case, kind=f"fulfilment_{answer.value}", actor=actor, at=now,
                           details={"proof_id": str(proof.id), "note": note}, cipher=cipher)
        await outbox.add(session, FulfilmentConfirmed(
            **trail.event_fields(case, now), agreement_id=agreement.id, confirmed=confirmed,
        ).envelope(source=EVENT_SOURCE))
        if confirmed:
            await chain.append(session, region_code=case.region_code, case_id=case.id, kind="fulfilled", at=now,
                               details={"complaint_id": str(case.complaint_id), "agreement_id": str(agreement.id),
                                        "agreement_hash": agreement.content_hash, "proof_kind": proof.kind,
                                        "reference": cipher.decrypt(proof.reference_enc,
                                                                    context=proof_context(proof.id, "reference"))},
                               cipher=cipher)
        else:
            await signals.on_fulfilment_disputed(session, case=case, agreement=agreement, proof_id=proof.id, at=now)
        trail.notify(session, case.id, "fulfilment", proof.id)
        return proof, agreement


async def proofs_of(session: AsyncSession, agreement_id: uuid.UUID) -> list[FulfilmentProof]:
    """Every proof recorded for the agreement, oldest first."""
    return list((await session.execute(select(FulfilmentProof).where(FulfilmentProof.agreement_id == agreement_id)
                                       .order_by(FulfilmentProof.id))).scalars())


def _confirmation_clock_start(agreement: SettlementAgreement) -> datetime:
    """Silence counts from the end of the fulfil-by day (Asia/Shanghai), or from the agreement if it names none."""
    return end_of_day(agreement.fulfil_by) if agreement.fulfil_by else agreement.created_at


async def flag_unconfirmed(sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Outbox, now: datetime,
                           days: int) -> dict[str, int]:
    """Unconfirmed `days` after the clock start: remind the consumer; another `days` later: flag the regulator."""
    period = timedelta(days=days)
    counts = {"reminders": 0, "regulator_flags": 0}
    last_id: uuid.UUID | None = None
    while True:
        async with sessionmaker() as session, session.begin():
            query = (select(SettlementAgreement)
                     .where(SettlementAgreement.fulfilment_status != FulfilmentStatus.CONFIRMED.value,
                            SettlementAgreement.regulator_flagged_at.is_(None),
                            SettlementAgreement.created_at <= now - period)
                     .order_by(SettlementAgreement.id).limit(BATCH).with_for_update(skip_locked=True))
            if last_id is not None:
                query = query.where(SettlementAgreement.id > last_id)
            agreements = list((await session.execute(query)).scalars())
            for agreement in agreements:
                level = _overdue_level(agreement, now, period)
                if level is None:
                    continue
                case = await load_case(session, agreement.case_id)
                if level == "reminder":
                    agreement.reminder_at = now
                else:
                    agreement.reminder_at = agreement.reminder_at or now
                    agreement.regulator_flagged_at = now
                counts["reminders" if level == "reminder" else "regulator_flags"] += 1
                await trail.record(session, case, kind=f"fulfilment_overdue_{level}", actor=SYSTEM, at=now,
                                   details={"agreement_id": str(agreement.id)})
                await outbox.add(session, FulfilmentOverdue(
                    **trail.event_fields(case, now), agreement_id=agreement.id, level=level,
                ).envelope(source=EVENT_SOURCE))
        if len(agreements) < BATCH:
            return counts
        last_id = agreements[-1].id


def _overdue_level(agreement: SettlementAgreement, now: datetime, period: timedelta) -> str | None:
    start = _confirmation_clock_start(agreement)
    if now >= start + 2 * period:
        return "regulator"
    if now >= start + period and agreement.reminder_at is None:
        return "reminder"
    return None
