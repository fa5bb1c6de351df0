"""Human case numbers: TS- (complaint) or JB- (report) <region>-<YYYYMMDD local>-<6-digit sequence per prefix,
region and day>."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String, Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from complaints.database import Base

COMPLAINT_PREFIX = "TS"  # 投诉
REPORT_PREFIX = "JB"  # 举报


class CaseNumberCounter(Base):
    """The last sequence number given out per prefix, region and local day."""

    __tablename__ = "case_number_counter"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


case_number_counter: Table = CaseNumberCounter.__table__  # type: ignore[assignment]


async def next_case_no(session: AsyncSession, *, prefix: str, region_code: str, day: date) -> str:
    """Take the next number; the counter row stays locked until the caller commits, so call this late."""
    first = insert(case_number_counter).values(prefix=prefix, region_code=region_code, day=day, last_value=1)
    statement = first.on_conflict_do_update(
        index_elements=[case_number_counter.c.prefix, case_number_counter.c.region_code, case_number_counter.c.day],
        set_={"last_value": case_number_counter.c.last_value + 1},
    ).returning(case_number_counter.c.last_value)
    sequence = (await session.execute(statement)).scalar_one()
    return f"{prefix}-{region_code}-{day:%Y%m%d}-{sequence:06d}"
