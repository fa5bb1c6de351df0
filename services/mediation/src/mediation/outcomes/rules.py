"""The rule of every signal, as pure functions beside the text the API shows (`RULES`); thresholds per region."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from mediation.outcomes.models import SignalKind

# Remedies (negotiation's offer types) whose value the agreed amount does not show: a replacement or repair of a
# 3,000-yuan phone settles a 3,000-yuan request with an amount of 0, so the share of the request is not compared.
IN_KIND = frozenset({"replacement", "repair"})

RULES: dict[SignalKind, str] = {
    SignalKind.LOW_SETTLEMENT: (
        "Raised when a case settles for less than low_settlement_share of the requested amount: "
        "agreed_fen * 10000 < low_settlement_bp * requested_fen (default 10 %). Only requests with an amount above 0, "
        "and agreements of refund, compensation, apology or other type (an agreed replacement or repair has a value "
        "its amount does not show). Raised in the settlement's transaction."),
    SignalKind.FULFILMENT_OVERDUE: (
        "Raised when an agreement is still not confirmed as fulfilled fulfilment_overdue_days (default 14) after "
        "the end of its fulfil-by day (Asia/Shanghai), or after the agreement when it names no day. Raised by the "
        "outcome-signals job."),
    SignalKind.FULFILMENT_DISPUTED: (
        "Raised when the consumer disputes the enterprise's proof of fulfilment; once per case. Raised in the "
        "dispute's transaction."),
    SignalKind.REFILED_AFTER_CLOSE: (
        "Raised on the NEW case when the same consumer files a new complaint against the same enterprise within "
        "refile_days (default 30) of the closure of an earlier case (closed_at <= filed_at <= closed_at + N days; "
        "filed_at is the complaint's filing time, else the case's opening). Raised when the new case opens."),
    SignalKind.WITHDRAWN_AFTER_CONTACT: (
        "Raised when a case ends because the consumer withdrew (Art. 23 ground 1) within withdrawal_days (default 7) "
        "of the enterprise's first contact on the case (its first message or offer, whichever came first). Raised "
        "in the termination's transaction."),
    SignalKind.ENTERPRISE_OUTLIER: (
        "For each enterprise and region (the case's own region code), over the cases closed in the last "
        "outlier_window_days (default 90): for each case signal kind, the enterprise's rate "
        "p = cases with the signal / closed cases, against the rate q of the other enterprises' closed cases of "
        "the same sector (the sector of "
        "most of the enterprise's cases) in the region. Raised when both sides have at least outlier_min_cases "
        "(default 20) closed cases and z = (p - q) / sqrt(q' (1 - q') / n) >= outlier_z (default 3.0), where n is the "
        "enterprise's case count and q' is q kept within [1/(2m), 1 - 1/(2m)] for the m peer cases (so a sector "
        "rate of 0 still gives a finite z). Only rates above the sector's count. Raised by the outcome-signals job on "
        "the enterprise's latest closed case, once per enterprise, region and month."),
    SignalKind.MEDIATOR_OUTLIER: (
        "For each mediator and region, over the regulator-mediation cases closed in the last outlier_window_days: "
        "the mediator's termination rate (terminations other than the consumer's withdrawal, ground 1, / closed "
        "cases) against the rate of the region's other mediation cases, with the same minimum count and z test as "
        "enterprise_outlier. Raised by the outcome-signals job on the mediator's latest terminated case, once per "
        "mediator, region and month."),
}

# The signals raised on a single case: the rates of enterprise_outlier are rates of these.
CASE_SIGNALS: tuple[SignalKind, ...] = (
    SignalKind.LOW_SETTLEMENT, SignalKind.FULFILMENT_OVERDUE, SignalKind.FULFILMENT_DISPUTED,
    SignalKind.REFILED_AFTER_CLOSE, SignalKind.WITHDRAWN_AFTER_CONTACT,
)


def is_low_settlement(*, requested_fen: int | None, agreed_fen: int, agreed_type: str, bp: int) -> bool:
    """The agreed amount is below `bp` basis points of the request (integer arithmetic, so 10.1 % is never 10 %)."""
    if requested_fen is None or requested_fen <= 0 or agreed_type in IN_KIND:
        return False
    return agreed_fen * 10_000 < bp * requested_fen


def within_days(earlier: datetime, later: datetime, days: int) -> bool:
    """`later` falls on or after `earlier` and at most `days` days of 24 hours after it."""
    return earlier <= later <= earlier + timedelta(days=days)


@dataclass(frozen=True)
class Comparison:
    """One subject's rate against its peers' and the z score of the difference."""

    count: int
    cases: int
    rate: float
    peer_count: int
    peer_cases: int
    peer_rate: float
    z: float

    def as_detail(self) -> dict[str, float | int]:
        return {"count": self.count, "cases": self.cases, "rate": round(self.rate, 4), "peer_count": self.peer_count,
                "peer_cases": self.peer_cases, "peer_rate": round(self.peer_rate, 4), "z": round(self.z, 2)}


def compare(count: int, cases: int, peer_count: int, peer_cases: int, *, min_cases: int) -> Comparison | None:
    """The z score of a subject's rate above its peers' (one-sided), or None when either side has too few cases."""
    if cases < min_cases or peer_cases < min_cases:
        return None
    rate, peer_rate = count / cases, peer_count / peer_cases
    floor = 1 / (2 * peer_cases)
    kept = min(max(peer_rate, floor), 1 - floor)
    z = (rate - peer_rate) / math.sqrt(kept * (1 - kept) / cases)
    return Comparison(count=count, cases=cases, rate=rate, peer_count=peer_count, peer_cases=peer_cases,
                      peer_rate=peer_rate, z=z)


def is_far(comparison: Comparison | None, z_threshold: float) -> bool:
    """Far means at least `z_threshold` standard errors above the peers' rate."""
    return comparison is not None and comparison.z >= z_threshold
