"""Messages and read receipts as participants send and see them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mediation.messages.models import (
    MAX_ATTACHMENTS_PER_MESSAGE,
    MAX_MESSAGE_CHARS,
    CaseAttachment,
    CaseMessage,
    ReadMarker,
    body_of,
    filename_of,
)
from servicekit.pii import PiiCipher


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    attachment_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=MAX_ATTACHMENTS_PER_MESSAGE,
        description="Your own uploads to this case (POST .../attachments) that this message carries.")


class AttachmentRead(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str = Field(description="Sniffed from the content, never taken from the client.")
    size: int = Field(description="Bytes.")
    sha256: str
    uploaded_by: str = Field(description="Role of the uploader: consumer, enterprise, mediator or regulator.")
    message_id: uuid.UUID | None = Field(description="The message that carries it; null until one does.")
    uploaded_at: datetime


class MessageRead(BaseModel):
    id: uuid.UUID
    author_role: str
    text: str
    attachments: list[AttachmentRead]
    posted_at: datetime


class ReadReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to: uuid.UUID = Field(description="Id of the newest message the reader has seen.")


class ReadReceiptRead(BaseModel):
    reader_role: str
    last_read_message_id: uuid.UUID
    read_at: datetime


def attachment_read(attachment: CaseAttachment, cipher: PiiCipher) -> AttachmentRead:
    return AttachmentRead(id=attachment.id, filename=filename_of(attachment, cipher),
                          content_type=attachment.content_type,
                          size=attachment.size_bytes, sha256=attachment.sha256, uploaded_by=attachment.uploader_role,
                          message_id=attachment.message_id, uploaded_at=attachment.uploaded_at)


def message_read(message: CaseMessage, attachments: Sequence[CaseAttachment], cipher: PiiCipher) -> MessageRead:
    return MessageRead(id=message.id, author_role=message.author_role, text=body_of(message, cipher),
                       attachments=[attachment_read(attachment, cipher) for attachment in attachments],
                       posted_at=message.posted_at)


def receipt_read(marker: ReadMarker) -> ReadReceiptRead:
    return ReadReceiptRead(reader_role=marker.reader_role, last_read_message_id=marker.last_read_message_id,
                           read_at=marker.read_at)
