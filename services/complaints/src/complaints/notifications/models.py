"""The text-message outbox. Nothing personal in clear: a sign-in code's phone and every message's parameters are
encrypted (bound to the row), a notification names its complaint and reads the phone from it when it is sent, and
the limits count keyed blind indexes of the phone and the client address."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from complaints.database import Base, case_reference, value_check
from complaints.notifications.state import SmsStatus
from servicekit.db import new_id, utcnow
from servicekit.sms import SmsTemplate


class SmsOutbox(Base):
    __tablename__ = "sms_outbox"
    __table_args__ = (
        value_check("status", (status.value for status in SmsStatus), name="status"),
        value_check("template", (template.value for template in SmsTemplate), name="template"),
        CheckConstraint("complaint_id IS NOT NULL OR phone_enc IS NOT NULL", name="recipient"),
        # The dispatcher's claim: pending messages in the order they fall due.
        Index("ix_sms_outbox_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        # The sign-in code limits: messages per phone and per client address within a period.
        Index("ix_sms_outbox_phone_index", "phone_index", "created_at"),
        Index("ix_sms_outbox_address_index", "address_index", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    template: Mapped[str] = mapped_column(String(40))
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(case_reference(ondelete="CASCADE"))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    params_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_index: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_index: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What caused it ("event:<id>", "deadline:<id>:<due date>"): queued once however often the cause is seen.
    dedup_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # A sign-in code is worth nothing after its window: not sent later than this.
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime | None]
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    # The provider's code or ours (expired, no_recipient); never the message or the number.
    last_error: Mapped[str | None] = mapped_column(String(120))
