"""One row of a 12315 or 12345 export, and the import's report (the format: docs/transfer-imports.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from complaints.complaint.enums import Channel, ComplaintKind, RequestType
from complaints.complaint.schemas import (
    CategoryCode,
    PastDate,
    Phone,
    RegionCode,
    RequestBody,
    SectorCode,
    Text,
    Uscc,
)
from servicekit.calendar import ZONE
from servicekit.db import utcnow


class Source(StrEnum):
    """Where the export comes from; the cases keep it as their channel."""

    NATIONAL_12315 = "12315"
    HOTLINE_12345 = "12345"

    @property
    def channel(self) -> Channel:
        return Channel.TRANSFER_12315 if self is Source.NATIONAL_12315 else Channel.TRANSFER_12345


def _received(value: datetime) -> datetime:
    """A time without a zone is local (Asia/Shanghai), as the platforms export it; never in the future."""
    moment = value.replace(tzinfo=ZONE) if value.tzinfo is None else value
    if moment > utcnow():
        raise PydanticCustomError("date_in_future", "the time is in the future")
    return moment


# A CSV cell is text: amounts are whole fen written as digits.
Fen = Annotated[int, Field(ge=0, le=10**12)]
Short = Annotated[Text, StringConstraints(max_length=200)]
Long = Annotated[Text, StringConstraints(max_length=500)]


class ImportRow(RequestBody):
    """One ticket as the export carries it; empty cells count as absent."""

    ticket_no: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_\-]{1,60}$")]
    received_at: Annotated[datetime, AfterValidator(_received)]
    consumer_name: Annotated[Text, StringConstraints(max_length=100)]
    consumer_phone: Phone
    consumer_address: Long | None = None
    business_name: Short
    business_address: Long | None = None
    business_uscc: Uscc | None = None
    business_region_code: RegionCode
    sector: SectorCode
    category: CategoryCode | None = None
    kind: ComplaintKind = ComplaintKind.COMPLAINT
    request_type: RequestType = RequestType.OTHER
    request_amount_fen: Fen | None = None
    facts: Annotated[Text, StringConstraints(max_length=4000)]
    request: Annotated[Text, StringConstraints(max_length=900)] | None = None
    purchase_date: PastDate | None = None
    purchase_amount_fen: Fen | None = None
    order_no: Annotated[Text, StringConstraints(max_length=100)] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _empty_cell_is_absent(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


COLUMNS = tuple(ImportRow.model_fields)


class Refusal(BaseModel):
    """A row not filed: its number (1 = the first row after the CSV header, or the first element of the JSON
    array), the column at fault (null when the row as a whole is refused) and why: `code` and `params` for a screen
    to word in its reader's language, `reason` in English for logs and scripts."""

    row: int
    field: str | None
    code: str = Field(description="What is wrong: a validation code (`missing`, `string_too_long`, `uscc_check`, "
                                  "`region_unknown`, `date_in_future`, ...) or `extra_cells`, `region_not_governed`.")
    params: dict[str, str | int | float] = Field(
        default_factory=dict, description="What the code's wording needs (`max_length`, `pattern`, `region`, ...).")
    reason: str


class Filed(BaseModel):
    row: int
    ticket_no: str
    id: uuid.UUID
    case_no: str


class ImportReport(BaseModel):
    source: Source
    rows: int
    filed: int
    duplicates: int
    refused: list[Refusal]
    cases: list[Filed]
