"""Which events an enterprise can receive by webhook, and the body each is delivered as."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from servicekit.contracts import complaints_v1, mediation_v1
from servicekit.events.envelope import EventEnvelope

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
    """The Standard Webhooks payload: type, timestamp and the event's data, less the sealed personal fields (the
    enterprise cannot open them, and its case read gives it what negotiation needs)."""
    data = dict(envelope.data)
    complainant = data.get("complainant")
    if isinstance(complainant, dict):
        data["complainant"] = {name: value for name, value in complainant.items() if name != "name_sealed"}
    return {"type": envelope.type, "timestamp": envelope.time.isoformat(), "data": data}
