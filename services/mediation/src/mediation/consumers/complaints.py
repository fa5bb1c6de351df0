"""Handlers of the complaints service's events (consumer group mediation.on-complaints)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases import service as cases_service
from mediation.outcomes import signals
from mediation.personal_data import service as personal_data_service
from mediation.regulator import service as regulator_service
from mediation.settings import MediationSettings
from servicekit.contracts.complaints_v1 import (
    ComplaintAccepted,
    ComplaintClosed,
    ComplaintFiled,
    ComplaintRated,
    ComplaintRouted,
    ComplaintWithdrawn,
    PersonalDataErased,
    RouteTarget,
)
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import Handler, queue_follow_up, write_queued
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.uploads import FileStore

GROUP = "mediation.on-complaints"


def complaint_handlers(*, outbox: Outbox, cipher: PiiCipher, settings: MediationSettings,
                       attachments: FileStore) -> dict[str, Handler]:
    """Event type -> handler; each runs in the consumer's transaction and never commits."""

    async def on_complaint_routed(session: AsyncSession, envelope: EventEnvelope) -> None:
        routed = ComplaintRouted.model_validate(envelope.data)
        # Complaints routed to the regulator reach mediation only once accepted.
        if routed.target is not RouteTarget.MERCHANT:
            return
        case_id = cases_service.queue_negotiation_case(session, outbox=outbox, cipher=cipher, routed=routed,
                                                       cause=envelope)
        # The refiling rule looks once for all the fetch's openings, once they are written.
        queue_follow_up(session, signals.judge_refilings, signals.Opening(case_id=case_id, at=routed.routed_at))

    async def on_complaint_accepted(session: AsyncSession, envelope: EventEnvelope) -> None:
        accepted = ComplaintAccepted.model_validate(envelope.data)
        case_id = await regulator_service.open_mediation(session, outbox=outbox, cipher=cipher, settings=settings,
                                                         accepted=accepted, cause=envelope)
        if case_id is not None:
            # A case new to mediation, or one moving on from negotiation (its refiling was judged when it opened:
            # raising the same signal again is a no-op).
            await signals.judge_refilings(session, [signals.Opening(case_id=case_id, at=accepted.accepted_at)])

    async def on_complaint_withdrawn(session: AsyncSession, envelope: EventEnvelope) -> None:
        await regulator_service.close_on_withdrawal(session, outbox=outbox, cipher=cipher, settings=settings,
                                                    withdrawn=ComplaintWithdrawn.model_validate(envelope.data),
                                                    cause=envelope)

    async def on_complaint_filed(session: AsyncSession, envelope: EventEnvelope) -> None:
        filed = ComplaintFiled.model_validate(envelope.data)
        # The sector and filing time the outcome audit compares by (reports never reach mediation).
        if filed.kind == "complaint":
            signals.record_filed(session, complaint_id=filed.complaint_id, sector=filed.sector,
                                 filed_at=filed.filed_at, request_type=filed.request_type,
                                 request_amount_fen=filed.request_amount_fen)

    async def on_complaint_closed(session: AsyncSession, envelope: EventEnvelope) -> None:
        closed = ComplaintClosed.model_validate(envelope.data)
        # Only a station's settlement on the spot: every other closure is of a case mediation already has.
        if closed.settled_by_station is not None:
            await signals.record_station_settlement(
                session, complaint_id=closed.complaint_id, case_no=closed.case_no, region_code=closed.region_code,
                merchant_id=closed.merchant_id, station_id=closed.settled_by_station, amount_fen=closed.recovered_fen,
                settled_at=closed.closed_at)

    async def on_complaint_rated(session: AsyncSession, envelope: EventEnvelope) -> None:
        rated = ComplaintRated.model_validate(envelope.data)
        await signals.record_rating(session, complaint_id=rated.complaint_id, rating=rated.rating,
                                    rated_at=rated.rated_at)

    async def on_personal_data_erased(session: AsyncSession, envelope: EventEnvelope) -> None:
        erased = PersonalDataErased.model_validate(envelope.data)
        await personal_data_service.erase_of_complaint(session, complaint_id=erased.complaint_id, cipher=cipher,
                                                       store=attachments)

    # Filings and routings only queue their writes (`queue_write`), written for the whole fetch after its handlers;
    # every other handler may read what they write (the case a withdrawal closes, the profile a look reads), so it
    # writes what is queued first.
    return {
        ComplaintFiled.event_type: on_complaint_filed,
        ComplaintRouted.event_type: on_complaint_routed,
        **{event_type: _writing_queued_first(handler) for event_type, handler in (
            (ComplaintClosed.event_type, on_complaint_closed),
            (PersonalDataErased.event_type, on_personal_data_erased),
            (ComplaintRated.event_type, on_complaint_rated),
            (ComplaintAccepted.event_type, on_complaint_accepted),
            (ComplaintWithdrawn.event_type, on_complaint_withdrawn))},
    }


def _writing_queued_first(handler: Handler) -> Handler:
    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        await write_queued(session)
        await handler(session, envelope)
    return handle
