"""Notices the regulator owes the parties (termination: within 7 working days, Order 121 Art. 23)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from mediation.database import Base
from servicekit.db import new_id, utcnow


class PartyNotification(Base):
    """A notice to one party with the day it is due by; `sent_at` once delivered."""

    __tablename__ = "party_notification"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"), index=True)
    party: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    due_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime | None]
