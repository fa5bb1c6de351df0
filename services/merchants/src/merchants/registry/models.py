"""The merchant registry: one row per business, deduplicated by its unified social credit code."""

from __future__ import annotations

import uuid
from datetime import datetime

from servicekit.db import new_id, utcnow
from sqlalchemy import String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base


class Merchant(Base):
    __tablename__ = "merchant"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    address: Mapped[str] = mapped_column(Text)
    sector: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
