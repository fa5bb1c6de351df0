"""Tables of the statistics: per-case contributions, the delta log the triggers append to, and the cubes.

The migrations (0007_stats_cubes; 0010 adds the issue type, 0011 the consultations) also create the view
`stats_case_contribution` (a case's contribution, computed from its complaint and deadline rows) and the deferred
triggers that keep `stats_case` and `stats_delta` up to date in every transaction that changes a case.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Column, Date, Integer, String, Table, Uuid

from complaints.database import metadata

COUNTS = ("received", "complaints", "reports", "accepted", "refused", "initial_reviews_due", "initial_reviews_on_time",
          "closed", "closed_on_time", "settled", "terminated", "recovered_fen", "report_verifications_due",
          "report_verifications_on_time", "consultations", "consultations_answered", "consultations_answered_on_time")
# The merchant cubes keep the cases without a merchant under this key (a primary key column cannot be NULL).
NO_MERCHANT = uuid.UUID(int=0)


def _counts() -> list[Column[int]]:
    return [Column(name, BigInteger if name == "recovered_fen" else Integer, nullable=False) for name in COUNTS]


def _dimensions(primary_key: bool) -> list[Column[str]]:
    return [Column("region_code", String(6, collation="C"), primary_key=primary_key, nullable=False),
            Column("kind", String(16), primary_key=primary_key, nullable=False),
            Column("sector", String(64), primary_key=primary_key, nullable=False),
            Column("channel", String(32), primary_key=primary_key, nullable=False),
            Column("issue_type", String(32), primary_key=primary_key, nullable=False)]


stats_case = Table(
    "stats_case", metadata,
    Column("complaint_id", Uuid, primary_key=True),
    Column("day", Date, nullable=False),
    *_dimensions(primary_key=False),
    Column("merchant_id", Uuid),
    *_counts(),
)

stats_delta = Table(
    "stats_delta", metadata,
    Column("day", Date, nullable=False),
    *_dimensions(primary_key=False),
    Column("merchant_id", Uuid),
    *_counts(),
)


def _cube(name: str, *, merchant: bool) -> Table:
    leading = [Column("merchant_id", Uuid, primary_key=True)] if merchant else []
    return Table(name, metadata, *leading, Column("bucket", Date, primary_key=True), *_dimensions(primary_key=True),
                 *_counts())


day_cube = _cube("stats_day", merchant=False)
month_cube = _cube("stats_month", merchant=False)
merchant_day_cube = _cube("stats_merchant_day", merchant=True)
merchant_month_cube = _cube("stats_merchant_month", merchant=True)
CUBES = (day_cube, month_cube, merchant_day_cube, merchant_month_cube)
