"""Vocabulary of the complaint domain: kinds, statuses, request types, channels, actors."""

from __future__ import annotations

from enum import StrEnum


class ComplaintKind(StrEnum):
    """What a submission is (Order 121 Art. 3); `both` is split into a complaint and a linked report (Art. 9)."""

    COMPLAINT = "complaint"
    REPORT = "report"
    BOTH = "both"


class ComplaintStatus(StrEnum):
    SUBMITTED = "submitted"
    WITH_MERCHANT = "with_merchant"
    PENDING_ACCEPTANCE = "pending_acceptance"
    ACCEPTED = "accepted"
    CLOSED_SETTLED = "closed_settled"
    CLOSED_TERMINATED = "closed_terminated"
    CLOSED_REFUSED = "closed_refused"
    WITHDRAWN = "withdrawn"


class ReportStatus(StrEnum):
    RECEIVED = "received"
    VERIFYING = "verifying"
    CASE_OPENED = "case_opened"
    NOT_OPENED = "not_opened"


CaseStatus = ComplaintStatus | ReportStatus


class RequestType(StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    COMPENSATION = "compensation"
    OTHER = "other"


class Channel(StrEnum):
    APP = "app"
    WEB = "web"
    MINI_PROGRAM = "mini_program"
    HOTLINE = "hotline"
    TRANSFER_12345 = "transfer_12345"
    TRANSFER_12315 = "transfer_12315"
    STATION = "station"
    CONSUMER_ASSOCIATION = "consumer_association"
    PARTNER_API = "partner_api"
    STAFF = "staff"


class IdDocument(StrEnum):
    """The identity documents a service station accepts from a walk-in consumer (有效身份证件)."""

    RESIDENT_ID_CARD = "resident_id_card"
    HK_MACAO_PERMIT = "hk_macao_permit"
    TAIWAN_PERMIT = "taiwan_permit"
    PASSPORT = "passport"
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"


class IssueType(StrEnum):
    """What the dispute is about, from the one fixed list the bureau classifies by (问题类别)."""

    QUALITY = "quality"
    SAFETY = "safety"
    PRICE = "price"
    METROLOGY = "metrology"
    COUNTERFEIT = "counterfeit"
    CONTRACT = "contract"
    FALSE_ADVERTISING = "false_advertising"
    AFTER_SALES = "after_sales"
    PERSONAL_INFORMATION = "personal_information"
    PERSONAL_RIGHTS = "personal_rights"
    OTHER = "other"


class ActorRole(StrEnum):
    CONSUMER = "consumer"
    MERCHANT = "merchant"
    REGULATOR = "regulator"
    MEDIATOR = "mediator"
    STATION_STAFF = "station_staff"
    HOTLINE = "hotline"
    SYSTEM = "system"
