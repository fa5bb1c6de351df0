"""Messages and read receipts as participants send and see them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mediation.messages.models import MAX_MESSAGE_CHARS


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class MessageRead(BaseModel):
    id: uuid.UUID
    author_role: str
    text: str
    posted_at: datetime


class ReadReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to: uuid.UUID = Field(description="Id of the newest message the reader has seen.")


class ReadReceiptRead(BaseModel):
    reader_role: str
    last_read_message_id: uuid.UUID
    read_at: datetime
