"""Consumer-rights service stations (消费维权服务站): walk-in help, hosted by a market or a business."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from servicekit.db import new_id, utcnow


class Station(Base):
    __tablename__ = "station"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    # The market or business hosting the station; linked to the registry when it is registered there.
    host_name: Mapped[str] = mapped_column(String(200))
    host_merchant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("merchant.id"))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    address: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
