"""Session families and their refresh tokens; a token is kept only as its SHA-256, never in clear."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from merchants.sessions.state import KIND_VALUES, REASON_VALUES
from servicekit.db import new_id, utcnow


class SessionFamily(Base):
    """One sign-in and every refresh token rotated from it; revoking the family ends them all."""

    __tablename__ = "session_family"
    __table_args__ = (
        CheckConstraint(f"kind IN ({KIND_VALUES})", name="kind"),
        CheckConstraint(f"revoked_reason IS NULL OR revoked_reason IN ({REASON_VALUES})", name="revoked_reason"),
        CheckConstraint("(revoked_at IS NULL) = (revoked_reason IS NULL)", name="revoked_with_reason"),
        # The pruner deletes families past their absolute lifetime.
        Index("ix_session_family_expires_at", "expires_at"),
        Index("ix_session_family_subject", "kind", "subject"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    # A consumer's pseudonym (c_…, never the phone) or a staff account's username.
    subject: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # The absolute lifetime: no rotation extends a family past it.
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """One generation of a family's refresh token; `rotated_at` is set when it was exchanged for the next."""

    __tablename__ = "refresh_token"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session_family.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
