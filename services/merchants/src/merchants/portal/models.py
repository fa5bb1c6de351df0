"""The audit trail of portal accounts: who created, activated, disabled or reset which account, and when."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from servicekit.db import new_id, utcnow


class PortalUserEvent(Base):
    """One change to a portal account; rows are only ever inserted."""

    __tablename__ = "portal_user_event"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_account.id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    action: Mapped[str] = mapped_column(String(16))
    # The username of the admin who acted, "applicant" (the first admin, created on approval) or the account itself.
    actor_id: Mapped[str] = mapped_column(String(200))
