"""Complaint statuses, the moves allowed between them, and the deadlines each route starts."""

from __future__ import annotations

from enum import StrEnum

from servicekit.problems import Problem


class ComplaintKind(StrEnum):
    COMPLAINT = "complaint"
    REPORT = "report"
    BOTH = "both"


class ComplaintStatus(StrEnum):
    SUBMITTED = "submitted"
    WITH_MERCHANT = "with_merchant"
    PENDING_ACCEPTANCE = "pending_acceptance"
    ACCEPTED = "accepted"
    CLOSED_SETTLED = "closed_settled"
    CLOSED_TERMINATED = "closed_terminated"
    CLOSED_REFUSED = "closed_refused"
    WITHDRAWN = "withdrawn"


class RequestType(StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    COMPENSATION = "compensation"
    OTHER = "other"


class Channel(StrEnum):
    APP = "app"
    WEB = "web"
    MINI_PROGRAM = "mini_program"
    HOTLINE = "hotline"
    TRANSFER_12345 = "transfer_12345"
    STATION = "station"
    CONSUMER_ASSOCIATION = "consumer_association"
    PARTNER_API = "partner_api"
    STAFF = "staff"


class ActorRole(StrEnum):
    CONSUMER = "consumer"
    MERCHANT = "merchant"
    REGULATOR = "regulator"
    MEDIATOR = "mediator"
    SYSTEM = "system"


class DeadlineKind(StrEnum):
    MERCHANT_NEGOTIATION = "merchant_negotiation"
    INITIAL_REVIEW = "initial_review"


class DeadlineState(StrEnum):
    RUNNING = "running"
    MET = "met"
    BREACHED = "breached"
    PAUSED = "paused"


# Working days each clock runs: 10 WD for the ODR enterprise to negotiate (research.md §2.1),
# 7 WD for the regulator to accept or refuse (Order 121 Art. 15).
WORKING_DAYS: dict[DeadlineKind, int] = {
    DeadlineKind.MERCHANT_NEGOTIATION: 10,
    DeadlineKind.INITIAL_REVIEW: 7,
}

_CLOSED = {
    ComplaintStatus.CLOSED_SETTLED,
    ComplaintStatus.CLOSED_TERMINATED,
    ComplaintStatus.CLOSED_REFUSED,
    ComplaintStatus.WITHDRAWN,
}

TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    ComplaintStatus.SUBMITTED: frozenset({ComplaintStatus.WITH_MERCHANT, ComplaintStatus.PENDING_ACCEPTANCE,
                                          ComplaintStatus.WITHDRAWN}),
    ComplaintStatus.WITH_MERCHANT: frozenset({ComplaintStatus.PENDING_ACCEPTANCE, ComplaintStatus.CLOSED_SETTLED,
                                              ComplaintStatus.WITHDRAWN}),
    ComplaintStatus.PENDING_ACCEPTANCE: frozenset({ComplaintStatus.ACCEPTED, ComplaintStatus.CLOSED_REFUSED,
                                                   ComplaintStatus.WITHDRAWN}),
    ComplaintStatus.ACCEPTED: frozenset({ComplaintStatus.CLOSED_SETTLED, ComplaintStatus.CLOSED_TERMINATED,
                                         ComplaintStatus.WITHDRAWN}),
    **{status: frozenset() for status in _CLOSED},
}

# The deadline a status starts when a complaint enters it.
DEADLINE_ON_ENTRY: dict[ComplaintStatus, DeadlineKind] = {
    ComplaintStatus.WITH_MERCHANT: DeadlineKind.MERCHANT_NEGOTIATION,
    ComplaintStatus.PENDING_ACCEPTANCE: DeadlineKind.INITIAL_REVIEW,
}


def transition(current: ComplaintStatus, target: ComplaintStatus) -> ComplaintStatus:
    """The new status, or a 409 problem when the table does not allow the move."""
    if target not in TRANSITIONS[current]:
        raise Problem("conflict", f"A complaint cannot go from {current.value} to {target.value}",
                      current_status=current.value)
    return target
