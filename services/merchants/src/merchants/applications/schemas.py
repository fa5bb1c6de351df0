"""Request and response bodies of ODR applications and their review."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

PHONE_PATTERN = r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|400-?\d{3}-?\d{4})$"
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, Field(pattern=PHONE_PATTERN, description="Mobile, landline (0xx-xxxxxxx) or 400 number",
                             examples=["13800138000", "0979-8412345"])]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contact(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    phone: Phone


class OnlineStoreIn(Strict):
    platform: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        examples=["taobao"])
    store_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class Criteria(Strict):
    """The enrollment criteria, one field each ("four haves and one sound system")."""

    handling_place: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="Address of the fixed place where disputes are handled")
    complaint_staff_count: int = Field(ge=1, le=100_000, description="Full- or part-time complaint staff")
    complaint_phone: Phone = Field(description="The dedicated complaint line")
    networked_computer: bool = Field(description="An internet-connected computer for the ODR system")
    handling_procedures: Annotated[str, StringConstraints(strip_whitespace=True, min_length=20, max_length=20_000)] = (
        Field(description="The written complaint-handling procedures"))
    cooperates_with_regulators: bool = Field(description="Undertakes to cooperate with regulators and associations")


class LicenceUpload(Strict):
    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    content_base64: str = Field(description="The file, base64; PDF, JPEG or PNG (typed by content), at most 5 MB")


class ApplicationCreate(Strict):
    name: Text200
    uscc: str = Field(min_length=1, max_length=40, description="Unified social credit code (GB 32100-2015)",
                      examples=["91632801MA7KL2Q38M"])
    region_code: str = Field(pattern=r"^\d{6}$", examples=["632801"])
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="Registered address (住所) as on the business licence")
    operating_address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] | None = (
        None)
    sector: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        examples=["retail"])
    online_stores: list[OnlineStoreIn] = Field(default_factory=list, max_length=50)
    contact: Contact
    undertaking_accepted: Literal[True] = Field(
        description="The undertaking to handle complaints promptly (及时处理消费投诉承诺书), accepted explicitly")
    business_licence: LicenceUpload
    criteria: Criteria


class LicenceRead(BaseModel):
    filename: str
    media_type: str
    size: int
    sha256: str


class ApplicationCreated(BaseModel):
    id: uuid.UUID
    status: str
    merchant_id: uuid.UUID
    licence: LicenceRead
    status_token: str = Field(description="Shown this once: with the id, it reads the application's status "
                                          "(`GET /v1/public/odr-applications/{id}/status`, header "
                                          "`X-Application-Token`) and, once approved, leads to the credentials.")


class OnlineStoreRead(BaseModel):
    platform: str
    store_id: str


class ApplicationRead(BaseModel):
    id: uuid.UUID
    status: str
    merchant_id: uuid.UUID
    name: str
    uscc: str
    region_code: str
    address: str
    operating_address: str | None
    sector: str
    online_stores: list[OnlineStoreRead]
    contact: Contact
    undertaking_accepted_at: datetime
    criteria: Criteria
    licence: LicenceRead
    submitted_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    credentials_expire_at: datetime | None = Field(
        default=None, description="Until when the applicant's one-time credentials link works (after approval).")
    credentials_retrieved_at: datetime | None = Field(
        default=None, description="When the applicant fetched its credentials; never shown to the regulator.")


class ApplicationList(BaseModel):
    items: list[ApplicationRead]
    next_cursor: str | None


class OptionalNote(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] | None = None


class CredentialsLink(BaseModel):
    """The one-time link to the enterprise's first API credentials, in the applicant's status once approved."""

    state: Literal["ready", "retrieved", "expired"]
    url: str = Field(description="POST `{\"retrieval_token\": ...}` here, once, to receive client_id and "
                                 "client_secret")
    retrieval_token: str | None = Field(description="Only while the link is ready; usable once.")
    expires_at: datetime
    retrieved_at: datetime | None


class ApplicantStatus(BaseModel):
    """What the applicant sees of its application: the decision, and the way to its credentials."""

    id: uuid.UUID
    status: str
    merchant_id: uuid.UUID
    submitted_at: datetime
    decided_at: datetime | None
    decision_reason: str | None
    credentials: CredentialsLink | None


class CredentialsRetrieval(Strict):
    retrieval_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PortalActivation(BaseModel):
    """The first portal admin (the application's contact): sign in at /portal/ with the username and this one-time
    code, and choose a password there."""

    username: str
    activation_code: str
    activation_expires_at: datetime


class Credentials(BaseModel):
    """The enterprise's first credentials: the secret (and the portal activation code) shown here once and stored
    only hashed."""

    merchant_id: uuid.UUID
    client_id: str
    client_secret: str
    portal_admin: PortalActivation | None = None
