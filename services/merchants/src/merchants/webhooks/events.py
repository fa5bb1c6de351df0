"""Which events an enterprise can receive by webhook, and the body each is delivered as."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from typing import Any

from servicekit.contracts import complaints_v1, mediation_v1
from servicekit.events.envelope import EventEnvelope
from servicekit.pii import PiiCipher, open_from_event

# Reports (举报) are the regulator's business: telling the business about them could warn it before a check. So are
# the regulator's reviews of outcomes (a referral for enforcement among them); their counts reach the scorecard.
EXCLUDED = frozenset({complaints_v1.ReportStatusChanged.event_type, mediation_v1.CaseReviewed.event_type})
WEBHOOK_EVENT_TYPES: frozenset[str] = frozenset(
    contract.event_type
    for contract in (*complaints_v1.CONTRACTS, *mediation_v1.CONTRACTS)
    if "merchant_id" in contract.model_fields and contract.event_type not in EXCLUDED
)
ALL = "*"


def concerns_enterprise(envelope: EventEnvelope) -> bool:
    """True when the event names an enterprise and may be shown to it."""
    if envelope.type not in WEBHOOK_EVENT_TYPES or not envelope.data.get("merchant_id"):
        return False
    if envelope.type == complaints_v1.ComplaintRouted.event_type:
        # Routed to the regulator, it is not the enterprise's to handle unless the regulator accepts it.
        return envelope.data.get("target") == complaints_v1.RouteTarget.MERCHANT
    return envelope.data.get("kind") != "report"


def subscribed(event_types: Collection[str], event_type: str) -> bool:
    """True when an endpoint's event list covers `event_type`."""
    return ALL in event_types or event_type in event_types


def webhook_body(envelope: EventEnvelope) -> dict[str, Any]:
    """The Standard Webhooks payload as the delivery keeps it: type, timestamp and the event's data, less the sealed
    name (the enterprise's case read gives it what negotiation needs). The facts stay sealed at rest; `sent_body`
    opens them when the body is sent or shown to the enterprise."""
    data = dict(envelope.data)
    complainant = data.get("complainant")
    if isinstance(complainant, dict):
        data["complainant"] = {name: value for name, value in complainant.items() if name != "name_sealed"}
    return {"type": envelope.type, "timestamp": envelope.time.isoformat(), "data": data}


def _by(field: str, context: Callable[[uuid.UUID], str]) -> Callable[[dict[str, Any]], str]:
    return lambda data: context(uuid.UUID(str(data[field])))


# Sealed fields the enterprise reads in clear, per event type: (sealed field, clear field, the seal's context).
OPENED_FOR_ENTERPRISE: dict[str, tuple[str, str, Callable[[dict[str, Any]], str]]] = {
    complaints_v1.ComplaintRouted.event_type: (
        "facts_sealed", "facts", _by("complaint_id", complaints_v1.SealedFacts.facts_context)),
    complaints_v1.ComplaintAccepted.event_type: (
        "facts_sealed", "facts", _by("complaint_id", complaints_v1.SealedFacts.facts_context)),
    mediation_v1.CaseTerminated.event_type: (
        "note_sealed", "note", _by("case_id", mediation_v1.CaseTerminated.note_context)),
    mediation_v1.FulfilmentRecorded.event_type: (
        "reference_sealed", "reference", _by("case_id", mediation_v1.FulfilmentRecorded.reference_context)),
}


def sent_body(payload: dict[str, Any], cipher: PiiCipher) -> dict[str, Any]:
    """The body as the enterprise receives and reads it: what the stored delivery keeps sealed (the complaint's
    facts, which the respondent has the right to read; the mediator's termination note; its own proof's
    reference) opened."""
    data = payload.get("data")
    opening = OPENED_FOR_ENTERPRISE.get(str(payload.get("type")))
    if opening is None or not isinstance(data, dict) or not isinstance(data.get(opening[0]), str):
        return payload
    sealed_field, clear_field, context = opening
    clear = open_from_event(cipher, data[sealed_field], context=context(data))
    opened = {name: value for name, value in data.items() if name != sealed_field} | {clear_field: clear}
    return payload | {"data": opened}
