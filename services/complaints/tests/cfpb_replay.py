"""Replaying CFPB complaint records (data/cfpb/cfpb_complaints_combined.csv.gz in this repository) as 12315 cases.

The mapping (one reasonable reading of the fields described in data/cfpb/README.md):

- Company -> respondent. The 6 companies with most rows are active ODR enterprises (the consumer asks for the green
  channel), each placed in a county of the test's area; every other company is a business not in the registry.
- State -> region: a county of the test's area chosen by CRC32 of the state code (an enterprise keeps its county).
- Product -> sector `finance`, category by PRODUCT_CATEGORY (else `finance.other`).
- Issue -> the facts, and the issue type by ISSUE_TYPE (else `other`); an issue in VIOLATION_ISSUES makes the
  submission `both` (a complaint and a linked report).
- Submitted via -> channel by CHANNEL.
- Company response to consumer -> outcome: monetary relief -> settled with (Complaint ID mod 1000 + 1) yuan;
  non-monetary relief -> settled with 0; explanation or without relief -> terminated in mediation if the consumer
  disputed, else refused (ground 3); untimely response -> terminated (ground 5); closed -> withdrawn; in progress ->
  left open.
- Timely response? = No, or an untimely response -> "late": nothing happens until every open clock has run out (the
  sweeper runs with a clock 90 days on), then the same outcome is driven.

How an outcome is driven (the same use cases and events the services use): an enterprise's case settles in
negotiation, or fails negotiation (mediation's negotiation_failed) and goes to the regulator; the regulator accepts
(then mediation settles or terminates) or refuses; the consumer withdraws. The report part is decided (case opened
when the consumer disputed) unless the row is in progress.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from servicekit.testing import cfpb

ENROLLED_COMPANIES = 6

CHANNEL = {"Web": "web", "Referral": "consumer_association", "Phone": "hotline", "Postal mail": "station",
           "Fax": "staff", "Email": "web"}
PRODUCT_CATEGORY = {
    "Mortgage": "finance.mortgage", "Debt collection": "finance.debt_collection",
    "Credit reporting": "finance.credit_reporting", "Credit card": "finance.credit_card",
    "Bank account or service": "finance.bank_account", "Student loan": "finance.consumer_loan",
    "Consumer loan": "finance.consumer_loan", "Consumer Loan": "finance.consumer_loan",
    "Payday loan": "finance.consumer_loan", "Money transfers": "finance.payment",
}
ISSUE_TYPE = {
    "Loan modification,collection,foreclosure": "contract", "Loan servicing, payments, escrow account": "contract",
    "Account opening, closing, or management": "contract", "Managing the loan or lease": "contract",
    "Cont'd attempts collect debt not owed": "contract", "Deposits and withdrawals": "after_sales",
    "Incorrect information on credit report": "personal_information",
    "Improper contact or sharing of info": "personal_information",
    "Improper use of my credit report": "personal_information",
    "Identity theft / Fraud / Embezzlement": "personal_information",
    "Communication tactics": "personal_rights", "Taking/threatening an illegal action": "personal_rights",
    "False statements or representation": "false_advertising", "Billing disputes": "price", "Late fee": "price",
    "Other fee": "price", "APR or interest rate": "price", "Settlement process and costs": "price",
}
VIOLATION_ISSUES = frozenset({"False statements or representation", "Improper contact or sharing of info",
                              "Taking/threatening an illegal action", "Fraud or scam",
                              "Improper use of my credit report", "Unauthorized transactions/trans. issues"})


class Outcome(StrEnum):
    SETTLE = "settle"
    TERMINATE = "terminate"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"
    NONE = "none"


@dataclass(frozen=True)
class Record:
    """One CFPB row, reduced to what the replay uses."""

    complaint_id: int
    company: str
    product: str
    issue: str
    state: str
    via: str
    response: str
    timely: str
    disputed: str

    @property
    def kind(self) -> str:
        return "both" if self.issue in VIOLATION_ISSUES else "complaint"

    @property
    def channel(self) -> str:
        return CHANNEL.get(self.via, "app")

    @property
    def issue_type(self) -> str:
        return ISSUE_TYPE.get(self.issue, "other")

    @property
    def category(self) -> str:
        return PRODUCT_CATEGORY.get(self.product, "finance.other")

    @property
    def late(self) -> bool:
        return self.timely == "No" or self.response == "Untimely response"

    @property
    def outcome(self) -> Outcome:
        if self.response in ("Closed with monetary relief", "Closed with non-monetary relief"):
            return Outcome.SETTLE
        if self.response in ("Closed with explanation", "Closed without relief"):
            return Outcome.TERMINATE if self.disputed == "Yes" else Outcome.REFUSE
        if self.response == "Untimely response":
            return Outcome.TERMINATE
        if self.response == "Closed":
            return Outcome.WITHDRAW
        return Outcome.NONE

    @property
    def termination_ground(self) -> int:
        return 5 if self.response == "Untimely response" else 3

    @property
    def amount_fen(self) -> int:
        return (self.complaint_id % 1000 + 1) * 100 if self.response == "Closed with monetary relief" else 0

    @property
    def opens_case(self) -> bool:
        return self.disputed == "Yes"


def load(count: int) -> list[Record]:
    """The first `count` rows of the file, in file order (its checksum verified first)."""
    return [Record(complaint_id=int(row["Complaint ID"]), company=row["Company"], product=row["Product"],
                   issue=row["Issue"] or "Other", state=row["State"], via=row["Submitted via"],
                   response=row["Company response to consumer"], timely=row["Timely response?"],
                   disputed=row["Consumer disputed?"])
            for row in cfpb.rows(count)]


def enrolled_companies(records: list[Record]) -> list[str]:
    """The companies that become ODR enterprises: the most frequent ones."""
    return [company for company, _ in Counter(r.company for r in records).most_common(ENROLLED_COMPANIES)]


def county_of_state(state: str, counties: tuple[str, ...]) -> str:
    return counties[zlib.crc32(state.encode()) % len(counties)]


@dataclass(frozen=True)
class Expected:
    """One case (a complaint, or the report split off a row) as the rules above make it end."""

    region: str
    kind: str
    channel: str
    merchant: str | None
    issue_type: str
    accepted: int
    refused: int
    closed: int
    closed_on_time: int
    settled: int
    terminated: int
    recovered_fen: int
    initial_reviews_due: int
    initial_reviews_on_time: int
    report_verifications_due: int
    report_verifications_on_time: int
    consultations: int = 0
    consultations_answered: int = 0
    consultations_answered_on_time: int = 0


def expected_cases(record: Record, *, region: str, merchant: str | None) -> list[Expected]:
    """What the statistics must count for this row, worked out from the rules, not from the database."""
    enrolled, late, outcome = merchant is not None, record.late, record.outcome
    closed = outcome is not Outcome.NONE
    decided_by_regulator = outcome in (Outcome.SETTLE, Outcome.TERMINATE, Outcome.REFUSE)
    settles_in_negotiation = enrolled and not late and outcome is Outcome.SETTLE
    if enrolled:
        # A review clock starts only when negotiation fails; it is always decided at once, so on time.
        ir_due = int(decided_by_regulator and not settles_in_negotiation)
        ir_on_time = ir_due
    elif late:
        ir_due, ir_on_time = 1, 0  # swept before anything happened
    else:
        ir_due = int(decided_by_regulator or outcome is Outcome.NONE)  # NONE: still open when swept
        ir_on_time = int(decided_by_regulator)
    complaint = Expected(
        region=region, kind="complaint", channel=record.channel, merchant=merchant, issue_type=record.issue_type,
        accepted=int(outcome in (Outcome.SETTLE, Outcome.TERMINATE) and not settles_in_negotiation),
        refused=int(outcome is Outcome.REFUSE), closed=int(closed), closed_on_time=int(closed and not late),
        settled=int(outcome is Outcome.SETTLE), terminated=int(outcome is Outcome.TERMINATE),
        recovered_fen=record.amount_fen if outcome is Outcome.SETTLE else 0,
        initial_reviews_due=ir_due, initial_reviews_on_time=ir_on_time,
        report_verifications_due=0, report_verifications_on_time=0,
    )
    if record.kind != "both":
        return [complaint]
    report = Expected(
        region=region, kind="report", channel=record.channel, merchant=merchant, issue_type=record.issue_type,
        accepted=0, refused=0,
        closed=int(closed), closed_on_time=int(closed and not late), settled=0, terminated=0, recovered_fen=0,
        initial_reviews_due=0, initial_reviews_on_time=0,
        report_verifications_due=1, report_verifications_on_time=int(closed and not late),
    )
    return [complaint, report]
