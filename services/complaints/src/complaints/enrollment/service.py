"""Reads and writes of the enrollment replica; writes come only from merchants' events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.enrollment.models import EnrolledMerchant, EnrollmentStatus

enrolled_merchant: Table = EnrolledMerchant.__table__  # type: ignore[assignment]


async def get(session: AsyncSession, *, merchant_id: uuid.UUID) -> Row[Any] | None:
    """The replica row of a merchant, or None if merchants never told us about it."""
    result = await session.execute(select(enrolled_merchant).where(enrolled_merchant.c.merchant_id == merchant_id))
    return result.one_or_none()


async def record_approval(session: AsyncSession, *, merchant_id: uuid.UUID, name: str, uscc: str, region_code: str,
                          sector: str, at: datetime) -> None:
    """Upsert the merchant as active; an event older than the row's last change is ignored."""
    statement = insert(enrolled_merchant).values(
        merchant_id=merchant_id, name=name, uscc=uscc, region_code=region_code, sector=sector,
        status=EnrollmentStatus.ACTIVE.value, updated_at=at,
    )
    await session.execute(statement.on_conflict_do_update(
        index_elements=[enrolled_merchant.c.merchant_id],
        set_={
            "name": statement.excluded.name,
            "uscc": statement.excluded.uscc,
            "region_code": statement.excluded.region_code,
            "sector": statement.excluded.sector,
            "status": statement.excluded.status,
            "updated_at": statement.excluded.updated_at,
        },
        where=enrolled_merchant.c.updated_at <= statement.excluded.updated_at,
    ))


async def record_status(session: AsyncSession, *, merchant_id: uuid.UUID, status: EnrollmentStatus,
                        at: datetime) -> None:
    """Set a known merchant's status; an event older than the row's last change is ignored."""
    await session.execute(
        update(enrolled_merchant)
        .where(enrolled_merchant.c.merchant_id == merchant_id, enrolled_merchant.c.updated_at <= at)
        .values(status=status.value, updated_at=at)
    )

