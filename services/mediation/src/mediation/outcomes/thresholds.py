"""Per-region thresholds of the signals: a region's own setting, else its nearest ancestor's, else the default."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.outcomes.models import AuditThreshold
from servicekit import regions


@dataclass(frozen=True)
class Thresholds:
    """The values the signal rules read (see `mediation.outcomes.rules`)."""

    low_settlement_bp: int = 1_000
    refile_days: int = 30
    withdrawal_days: int = 7
    fulfilment_overdue_days: int = 14
    outlier_min_cases: int = 20
    outlier_z: float = 3.0
    outlier_window_days: int = 90


DEFAULTS = Thresholds()
NAMES: tuple[str, ...] = tuple(field.name for field in fields(Thresholds))
DEFAULT_SOURCE = "default"


@dataclass(frozen=True)
class Resolved:
    """The effective thresholds of a region and, per setting, the region whose row set it (or "default")."""

    values: Thresholds
    sources: dict[str, str]
    own: dict[str, Any]


def lineage(region_code: str) -> list[str]:
    """The region, then its ancestors up to the province: the order in which settings are looked up."""
    return [region_code, *(ancestor.code for ancestor in regions.ancestors(region_code))]


async def resolve(session: AsyncSession, region_code: str) -> Resolved:
    """Each setting from the nearest region of the lineage that sets it."""
    codes = lineage(region_code)
    rows = {row.region_code: row for row in (await session.execute(
        select(AuditThreshold).where(AuditThreshold.region_code.in_(codes)))).scalars()}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in NAMES:
        for code in codes:
            row = rows.get(code)
            if row is not None and getattr(row, name) is not None:
                values[name], sources[name] = getattr(row, name), code
                break
        else:
            values[name], sources[name] = getattr(DEFAULTS, name), DEFAULT_SOURCE
    own_row = rows.get(region_code)
    own = {name: getattr(own_row, name) if own_row else None for name in NAMES}
    return Resolved(values=Thresholds(**values), sources=sources, own=own)


class ThresholdCache:
    """Resolved thresholds per region for the length of one job pass (settings change rarely)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._resolved: dict[str, Thresholds] = {}

    async def of(self, region_code: str) -> Thresholds:
        if region_code not in self._resolved:
            self._resolved[region_code] = (await resolve(self._session, region_code)).values
        return self._resolved[region_code]


async def set_own(session: AsyncSession, *, region_code: str, values: dict[str, Any], by: str,
                  at: datetime) -> None:
    """Replace the region's own settings: every setting not given (or null) is inherited again."""
    row = {name: values.get(name) for name in NAMES}
    await session.execute(insert(AuditThreshold).values(region_code=region_code, updated_at=at, updated_by=by, **row)
                          .on_conflict_do_update(index_elements=[AuditThreshold.region_code],
                                                 set_={**row, "updated_at": at, "updated_by": by}))
