"""Who among staff saw a case's personal data in full, when, which fields and why (architecture §6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from complaints.database import Base, value_check


class RevealPurpose(StrEnum):
    """Why staff read a party's personal data in full (PIPL Art. 6: for a stated purpose, no more than it needs)."""

    CONTACT_PARTY = "contact_party"
    VERIFY_IDENTITY = "verify_identity"
    MEDIATION = "mediation"
    INVESTIGATION = "investigation"
    TRANSFER = "transfer"
    LEGAL_ASSISTANCE = "legal_assistance"
    OTHER = "other"


# Before reveals existed, every regulator read of a case detail returned the parties in full and was logged with
# this purpose (migration 0012); no request can give it.
DETAIL_READ = "case_detail"


class PartyField(StrEnum):
    """What a reveal can show: the complainant's fields, the agent (Art. 11), the joint complainants (Art. 12)."""

    NAME = "name"
    PHONE = "phone"
    ADDRESS = "address"
    ID_NUMBER = "id_number"
    AGENT = "agent"
    JOINT = "joint"


class PiiAccess(Base):
    """One reveal: the staff member (token subject, role, region), the time, the fields shown and the purpose; the
    free-text note is encrypted (servicekit.pii), bound to the row."""

    __tablename__ = "pii_access"
    __table_args__ = (
        Index("ix_pii_access_complaint_id_at", "complaint_id", "at"),
        value_check("purpose", (*(purpose.value for purpose in RevealPurpose), DETAIL_READ), name="purpose"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaint.id"))
    actor_sub: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_region: Mapped[str | None] = mapped_column(String(6))
    at: Mapped[datetime]
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    purpose: Mapped[str] = mapped_column(String(32))
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
