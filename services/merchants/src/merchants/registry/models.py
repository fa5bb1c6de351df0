"""The merchant registry: one row per business, deduplicated by its unified social credit code."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from servicekit.db import new_id, utcnow


class Merchant(Base):
    __tablename__ = "merchant"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    # The registered address (住所) from the business licence.
    address: Mapped[str] = mapped_column(Text)
    operating_address: Mapped[str | None] = mapped_column(Text)
    sector: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class MerchantStore(Base):
    """An online store the merchant runs on a platform; a platform's store id belongs to one merchant."""

    __tablename__ = "merchant_store"
    __table_args__ = (UniqueConstraint("platform", "store_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"), index=True)
    platform: Mapped[str] = mapped_column(String(64))
    store_id: Mapped[str] = mapped_column(String(128))
