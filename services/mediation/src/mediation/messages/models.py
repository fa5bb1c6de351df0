"""Messages between the participants of a case, and how far each participant has read."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from mediation.database import Base
from servicekit.db import new_id, utcnow
from servicekit.pii import PiiCipher

MAX_MESSAGE_CHARS = 4_000
MAX_ATTACHMENTS_PER_MESSAGE = 10


class CaseMessage(Base):
    """A text message from a party or the mediator; ids are UUIDv7, so id order is posting order."""

    __tablename__ = "case_message"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"), index=True)
    author_role: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str] = mapped_column(String(200))
    # What the participant wrote, encrypted (`body_context`): a consumer's message often names, locates or
    # identifies them.
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    posted_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ReadMarker(Base):
    """Read receipt: the newest message of the case this participant has read."""

    __tablename__ = "read_marker"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"), primary_key=True)
    reader_role: Mapped[str] = mapped_column(String(16), primary_key=True)
    reader_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_read_message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case_message.id"))
    read_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class CaseAttachment(Base):
    """A file uploaded to a case; a message of the same author may later reference it (once)."""

    __tablename__ = "case_attachment"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mediation_case.id"), index=True)
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("case_message.id"), index=True)
    uploader_role: Mapped[str] = mapped_column(String(16))
    uploader_id: Mapped[str] = mapped_column(String(200))
    # The uploader's original file name, encrypted (`filename_context`); the stored file is named by the id.
    filename_enc: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


def body_context(message_id: uuid.UUID) -> str:
    """AES-GCM associated data of a message's text."""
    return f"case_message:{message_id}:body"


def body_of(message: CaseMessage, cipher: PiiCipher) -> str:
    return cipher.decrypt(message.body_enc, context=body_context(message.id))


def filename_context(attachment_id: uuid.UUID) -> str:
    """AES-GCM associated data of an attachment's original name (a file name can be personal data)."""
    return f"case_attachment:{attachment_id}:filename"


def filename_of(attachment: CaseAttachment, cipher: PiiCipher) -> str:
    return cipher.decrypt(attachment.filename_enc, context=filename_context(attachment.id))
