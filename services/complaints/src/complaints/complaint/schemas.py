"""Request and response bodies of the complaint endpoints (architecture.md §5 canonical shapes)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from complaints import catalog, identifiers
from complaints.complaint.enums import (
    ActorRole,
    CaseStatus,
    Channel,
    ComplaintKind,
    IdDocument,
    IssueType,
    RequestType,
)
from complaints.deadline.schemas import DeadlineRead
from complaints.evidence.schemas import EvidenceRead
from servicekit import regions
from servicekit.calendar import local_date
from servicekit.db import utcnow


def _known_region(code: str) -> str:
    if not regions.is_known(code):
        raise PydanticCustomError("region_unknown", "not a GB/T 2260 region code we know")
    return code


def _checked_uscc(code: str) -> str:
    if not identifiers.is_uscc(code):
        raise PydanticCustomError("uscc_check", "the check character of this unified social credit code is wrong")
    return code


def _checked_id_number(code: str) -> str:
    if not identifiers.is_id_number(code):
        raise PydanticCustomError("id_number_check", "not a valid resident ID number (check character)")
    return code


def _known_sector(code: str) -> str:
    if not catalog.is_sector(code):
        raise PydanticCustomError("sector_unknown", "unknown sector code; see the sector list in the API description")
    return code


def _known_category(code: str) -> str:
    if not catalog.is_category(code):
        raise PydanticCustomError("category_unknown",
                                 "unknown category code; see the category list in the API description")
    return code


def _not_in_the_future(value: dt.date) -> dt.date:
    if value > local_date(utcnow()):
        raise PydanticCustomError("date_in_future", "the date is in the future")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$"), AfterValidator(_known_region)]
Uscc = Annotated[str, StringConstraints(pattern=identifiers.USCC_PATTERN.pattern), AfterValidator(_checked_uscc)]
IdNumber = Annotated[str, StringConstraints(pattern=identifiers.ID_NUMBER_PATTERN.pattern),
                     AfterValidator(_checked_id_number)]
Phone = Annotated[str, StringConstraints(pattern=r"^1[3-9]\d{9}$")]
Fen = Annotated[StrictInt, Field(ge=0, le=10**12)]
PastDate = Annotated[dt.date, AfterValidator(_not_in_the_future)]
SectorCode = Annotated[str, AfterValidator(_known_sector)]
CategoryCode = Annotated[str, AfterValidator(_known_category)]


class RequestBody(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Complainant(RequestBody):
    """A consumer's real identity (Art. 10): name, phone, postal address; the ID number is optional."""

    name: Annotated[Text, StringConstraints(max_length=100)]
    phone: Phone
    address: Annotated[Text, StringConstraints(max_length=500)] | None = None
    id_number: IdNumber | None = None


class PowerOfAttorney(RequestBody):
    """The signed power of attorney an agent files with (Art. 11): the matters, the powers and the term."""

    matters: Annotated[Text, StringConstraints(max_length=500)]
    powers: Annotated[Text, StringConstraints(max_length=500)]
    valid_until: dt.date

    @field_validator("valid_until")
    @classmethod
    def _not_expired(cls, value: dt.date) -> dt.date:
        if value < local_date(utcnow()):
            raise ValueError("the power of attorney has expired")
        return value


class Agent(RequestBody):
    """Someone filing for the consumer: their identity (ID number required) and the power of attorney."""

    name: Annotated[Text, StringConstraints(max_length=100)]
    phone: Phone
    id_number: IdNumber
    power_of_attorney: PowerOfAttorney


class OnlineSeller(RequestBody):
    """A seller on an e-commerce platform; jurisdiction follows Art. 13: the region of the address the store displays,
    else (no address, or one that cannot be reached) the platform operator's region."""

    platform: Annotated[Text, StringConstraints(max_length=200)]
    platform_region_code: RegionCode
    store: Annotated[Text, StringConstraints(max_length=200)]
    store_url: Annotated[Text, StringConstraints(max_length=500)] | None = None
    displayed_address: Annotated[Text, StringConstraints(max_length=500)] | None = None
    displayed_region_code: RegionCode | None = None

    @property
    def jurisdiction(self) -> str:
        return self.displayed_region_code or self.platform_region_code


class RespondentIn(RequestBody):
    """A registered merchant by id, or one not in the registry by name and region (or, online, its store)."""

    merchant_id: uuid.UUID | None = None
    name: Annotated[Text, StringConstraints(max_length=200)] | None = None
    address: Annotated[Text, StringConstraints(max_length=500)] | None = None
    uscc: Uscc | None = None
    region_code: RegionCode | None = None
    online: OnlineSeller | None = None

    @model_validator(mode="after")
    def _identifies_the_business(self) -> Self:
        if self.merchant_id is None and (self.name is None or (self.region_code is None and self.online is None)):
            raise ValueError("give merchant_id, or the name and region_code (or online store) of a business "
                             "not in the registry")
        return self

    @property
    def jurisdiction(self) -> str | None:
        """The region whose county bureau handles it (Art. 13), for a business not in the registry."""
        return self.online.jurisdiction if self.online is not None else self.region_code


class RequestIn(RequestBody):
    type: RequestType
    amount_fen: Fen | None = None


class PurchaseIn(RequestBody):
    date: PastDate
    amount_fen: Fen
    order_no: Annotated[Text, StringConstraints(max_length=100)] | None = None


class JointComplaint(RequestBody):
    """Art. 12: two or more consumers, same dispute, same business, with their consent; up to two representatives.

    `consumers` are the others besides `complainant`; `representatives` index the list [complainant, *consumers].
    """

    consumers: Annotated[list[Complainant], Field(min_length=1, max_length=200)]
    representatives: Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(max_length=2)] = []
    consented: StrictBool

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.consented:
            raise ValueError("a joint complaint needs every consumer's consent")
        if len(set(self.representatives)) != len(self.representatives):
            raise ValueError("a representative is named twice")
        if any(index > len(self.consumers) for index in self.representatives):
            raise ValueError("a representative must be one of the consumers (0 = the complainant)")
        return self


class ComplaintCreate(RequestBody):
    """A complaint, a report (举报, whose reporter may stay anonymous: no `complainant`), or both at once."""

    kind: ComplaintKind = ComplaintKind.COMPLAINT
    green_channel: StrictBool = False
    complainant: Complainant | None = None
    agent: Agent | None = None
    joint: JointComplaint | None = None
    respondent: RespondentIn
    request: RequestIn
    facts: Annotated[Text, StringConstraints(max_length=5000)]
    purchase: PurchaseIn | None = None
    sector: SectorCode
    category: CategoryCode | None = None
    # Optional so that clients written before issue types keep working; the regulator can correct it later.
    issue_type: IssueType = IssueType.OTHER
    channel: Channel = Channel.APP
    evidence_ids: Annotated[list[uuid.UUID], Field(max_length=20)] = []
    shared_evidence_ids: Annotated[list[uuid.UUID], Field(
        max_length=20, description="Those of `evidence_ids` the ODR enterprise may see and download; "
                                   "the others are for the regulator only")] = []
    disclosure_consent: StrictBool = False

    @model_validator(mode="after")
    def _shares_only_its_own_evidence(self) -> Self:
        if not set(self.shared_evidence_ids) <= set(self.evidence_ids):
            raise ValueError("shared_evidence_ids must be among evidence_ids")
        return self


class SettledOnSpot(RequestBody):
    """What the merchant paid or agreed at the station, settling the complaint there and then: `amount_fen` is the
    money the consumer recovers (0 for a settlement without money, such as an apology or a replacement), `note` what
    the parties agreed."""

    amount_fen: Annotated[StrictInt, Field(ge=0)]
    note: Annotated[Text, StringConstraints(max_length=2000)]


# What each identity document's number looks like; the resident ID card's check character is verified as well.
DOCUMENT_NUMBER_FORMATS: dict[IdDocument, tuple[str, str]] = {
    IdDocument.RESIDENT_ID_CARD: (identifiers.ID_NUMBER_PATTERN.pattern,
                                  "18 characters: 17 digits and a check digit or X"),
    IdDocument.HK_MACAO_PERMIT: (r"^[HM]\d{8}(\d{2})?$", "H or M followed by 8 or 10 digits"),
    IdDocument.TAIWAN_PERMIT: (r"^\d{8}$", "8 digits"),
    IdDocument.PASSPORT: (r"^[A-Z0-9]{5,17}$", "5 to 17 letters or digits"),
    IdDocument.FOREIGN_PERMANENT_RESIDENCE: (r"^([A-Z]{3}\d{12}|9\d{16}[\dX])$",
                                             "3 letters and 12 digits, or 18 characters starting with 9"),
}


class IdentityCheck(RequestBody):
    """The identity document station staff saw in the original and compared with the walk-in (Art. 10: a
    complainant's real identity). `checked` is the staff member's confirmation and must be true."""

    document_type: IdDocument
    document_number: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=32)]
    checked: Literal[True]

    @model_validator(mode="after")
    def _number_fits_the_document(self) -> Self:
        pattern, expected = DOCUMENT_NUMBER_FORMATS[self.document_type]
        if not re.match(pattern, self.document_number):
            raise ValueError(f"document_number: a {self.document_type.value} number is {expected}")
        if self.document_type is IdDocument.RESIDENT_ID_CARD and not identifiers.is_id_number(self.document_number):
            raise ValueError("document_number: the check character of this resident ID number is wrong")
        return self


class IdentityRead(BaseModel):
    """Which document station staff checked the complainant's identity against, and when; the number itself is
    `complainant.id_number`."""

    document_type: IdDocument
    checked_at: datetime


class StationComplaintCreate(ComplaintCreate):
    """A filing by station staff for a walk-in consumer; `channel` is always `station`, and the consumer's identity
    document was checked on the spot (its number goes in `identity`, not in `complainant.id_number`)."""

    identity: IdentityCheck
    settled_on_spot: SettledOnSpot | None = None

    @model_validator(mode="after")
    def _settled_only_as_a_complaint(self) -> Self:
        if self.settled_on_spot is not None and self.kind is not ComplaintKind.COMPLAINT:
            raise ValueError("only a complaint can be settled on the spot")
        if self.complainant is None:
            raise ValueError("a station files for a consumer it has identified: complainant is required")
        if self.complainant.id_number is not None:
            raise ValueError("the checked document's number goes in identity.document_number, "
                             "not complainant.id_number")
        return self


class HotlineComplaintCreate(ComplaintCreate):
    """A filing by a hotline operator for a caller; `channel` is always `hotline`, and the caller is identified."""

    @model_validator(mode="after")
    def _caller_identified(self) -> Self:
        if self.complainant is None:
            raise ValueError("the hotline files for a caller it has identified: complainant is required")
        return self


class OnlineSellerRead(BaseModel):
    platform: str
    platform_region_code: str
    store: str
    store_url: str | None
    displayed_address: str | None
    displayed_region_code: str | None


class ReportCreate(ComplaintCreate):
    """A report (举报) on its own endpoint: `kind` is report, and the reporter may stay anonymous."""

    kind: Literal[ComplaintKind.REPORT] = ComplaintKind.REPORT


class RespondentRead(BaseModel):
    merchant_id: uuid.UUID | None
    name: str
    address: str | None
    uscc: str | None
    region_code: str | None
    online: OnlineSellerRead | None = None


class RequestRead(BaseModel):
    type: RequestType
    amount_fen: int | None


class PurchaseRead(BaseModel):
    date: dt.date
    amount_fen: int | None
    order_no: str | None


class ComplainantRead(BaseModel):
    name: str
    phone: str
    address: str | None
    id_number: str | None = None


class PowerOfAttorneyRead(BaseModel):
    matters: str
    powers: str
    valid_until: date


class AgentRead(BaseModel):
    name: str
    phone: str
    id_number: str
    power_of_attorney: PowerOfAttorneyRead


class JointRead(BaseModel):
    consumers: list[ComplainantRead]
    representatives: list[int]
    consented: bool


class PartiesRead(BaseModel):
    """Who else is on the complainant's side: an agent and the other consumers of a joint complaint."""

    agent: AgentRead | None
    joint: JointRead | None


class RefusalRead(BaseModel):
    """Why the regulator refused (Art. 16 ground 1-7) and the other routes open to the consumer (Art. 15)."""

    ground: int
    note: str
    other_routes: str


class ReportDecisionRead(BaseModel):
    case_opened: bool
    reason: str


class RatingRead(BaseModel):
    score: int
    text: str | None
    rated_at: datetime


class TimelineEntry(BaseModel):
    """One thing that happened. `code` says what (a stable key a screen words in its reader's language; null on rows
    older than codes), `params` the values that wording needs (e.g. `transferred` with from_region, to_region and
    reason); `note` is the English wording of the audit trail."""

    at: datetime
    status: CaseStatus
    actor_role: ActorRole
    note: str | None
    code: str | None = None
    params: dict[str, str | int] = {}


class FlagRead(BaseModel):
    """An anti-abuse signal (Order 121 Art. 17) with its evidence, for the regulator's judgement: never a refusal."""

    code: str
    detail: str
    case_nos: list[str]


class ComplaintRead(BaseModel):
    """A complaint as its owner sees it: status, parties, request, deadlines and timeline."""

    id: uuid.UUID
    case_no: str
    kind: ComplaintKind
    status: CaseStatus
    linked_case_id: uuid.UUID | None
    mediation_case_id: uuid.UUID | None
    recovered_fen: int
    region_code: str
    green_channel: bool
    complainant: ComplainantRead | None
    identity: IdentityRead | None = Field(
        None, description="The identity document station staff checked on the spot (station filings only)")
    parties: PartiesRead | None = None
    respondent: RespondentRead
    request: RequestRead
    purchase: PurchaseRead | None
    facts: str
    sector: str
    category: str | None
    issue_type: IssueType = IssueType.OTHER
    channel: Channel
    transferred_from: str | None = None
    deadlines: list[DeadlineRead]
    timeline: list[TimelineEntry]
    evidence: list[EvidenceRead] = []
    disclosure_consent: bool = False
    refusal: RefusalRead | None
    report_decision: ReportDecisionRead | None
    rating: RatingRead | None
    flags: list[FlagRead] | None = None
    filed_at: datetime
    routed_at: datetime | None
    closed_at: datetime | None
    personal_data_erased_at: datetime | None = None
    updated_at: datetime


class ComplaintSummary(BaseModel):
    """A complaint in a list: no personal data."""

    id: uuid.UUID
    case_no: str
    kind: ComplaintKind
    status: CaseStatus
    region_code: str
    merchant_id: uuid.UUID | None
    respondent_name: str
    request_type: RequestType
    green_channel: bool
    sector: str
    issue_type: IssueType
    channel: Channel
    due_at: datetime | None = Field(
        None, validation_alias="queue_due_at",
        description="When the clock of the case's current stage runs out (or ran out: overdue); null without one")
    filed_at: datetime
    updated_at: datetime


class ComplaintList(BaseModel):
    items: list[ComplaintSummary]
    next_cursor: str | None


Note = Annotated[Text, StringConstraints(max_length=2000)]


class RefuseIn(RequestBody):
    """Refusal (不予受理) with its Order 121 Art. 16 ground: 1 no authority, 2 handled elsewhere, 3 not a consumer
    dispute, 4 over three years, 5 materials missing or false, 6 identity not genuine, 7 other legal ground."""

    ground: Annotated[StrictInt, Field(ge=1, le=7)]
    note: Note


class RouteToMerchantIn(RequestBody):
    merchant_id: uuid.UUID


class IssueTypeIn(RequestBody):
    """The regulator's correction of the issue type the consumer chose."""

    issue_type: IssueType
    note: Note | None = None


class TransferIn(RequestBody):
    """Art. 13, 41: the bureau of `to_region` is the competent one; `reason` is shown to the consumer."""

    to_region: RegionCode
    reason: Note


class TransferRead(BaseModel):
    """Where a transferred complaint went, and the receiving bureau's acceptance clock."""

    id: uuid.UUID
    case_no: str
    status: CaseStatus
    from_region: str
    region_code: str
    due_date: date
    transferred_at: datetime


class RatingIn(RequestBody):
    score: Annotated[StrictInt, Field(ge=1, le=5)]
    text: Annotated[Text, StringConstraints(max_length=1000)] | None = None
