"""The period report, built from the statistics service's functions so every figure has the definition
GET /v1/regulator/stats gives it (complaints.received is the stats' `complaints`, recovered_fen its
`recovered_fen`, for the same region and period).

ODR enterprises and service stations come from what this service holds, never from a call to another service at
request time: the enrollment replica (who is enrolled now) and the cases (a complaint names its ODR enterprise in
`merchant_id`, a station filing its station in `station_id`). The audit of outcomes likewise: mediation publishes
each recorded review (`mediation.case.reviewed.v1`) and `record_review` keeps one row per review here.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from complaints import catalog
from complaints.complaint.enums import Channel, ComplaintKind
from complaints.complaint.models import Complaint
from complaints.enrollment.models import EnrolledMerchant, EnrollmentStatus
from complaints.stats.service import GroupBy, Scope, compute
from complaints.summary.models import AuditReviewFact
from servicekit import regions
from servicekit.calendar import end_of_day, local_date
from servicekit.contracts.mediation_v1 import CaseReviewed

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]
enrolled_table: Table = EnrolledMerchant.__table__  # type: ignore[assignment]


def _rate(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


async def _figures(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    [(_, figures)] = await compute(session, scope, None)
    return figures


async def summarize(session: AsyncSession, *, region: str, start: date, end: date) -> dict[str, Any]:
    """Every figure of the period report for `region` (and below) and the cases filed from `start` to `end`."""
    everything = Scope(region=region, start=start, end=end)
    totals = await _figures(session, everything)
    complaints = await _figures(session, replace(everything, kind=ComplaintKind.COMPLAINT))
    reports = await _figures(session, replace(everything, kind=ComplaintKind.REPORT))
    stations = await _figures(session, replace(everything, channel=Channel.STATION))
    by_sector = await compute(session, everything, GroupBy.SECTOR)
    by_channel = await compute(session, everything, GroupBy.CHANNEL)
    by_issue_type = await compute(session, everything, GroupBy.ISSUE_TYPE)
    by_merchant = await compute(session, replace(everything, kind=ComplaintKind.COMPLAINT), GroupBy.MERCHANT)
    odr = [figures for key, figures in by_merchant if key is not None]
    known = regions.get(region)
    return {
        "region": region,
        "region_name": known.name if known is not None else None,
        "from": start,
        "to": end,
        "complaints": {
            "received": complaints["received"],
            "accepted": complaints["accepted"],
            "refused": complaints["refused"],
            "closed": complaints["closed"],
            "closure_rate": complaints["closure_rate"],
            "initial_reviews_due": complaints["initial_reviews_due"],
            "initial_reviews_on_time": complaints["initial_reviews_on_time"],
            "on_time_initial_review_rate": complaints["on_time_initial_review_rate"],
            "settled": complaints["settled"],
            "terminated": complaints["terminated"],
            "mediation_success_rate": complaints["mediation_success_rate"],
            "recovered_fen": totals["recovered_fen"],
        },
        "reports": {
            "received": reports["received"],
            "closed": reports["closed"],
            "closure_rate": reports["closure_rate"],
            "verifications_due": reports["report_verifications_due"],
            "verifications_on_time": reports["report_verifications_on_time"],
            "on_time_verification_rate": reports["on_time_report_verification_rate"],
        },
        "consultations": {
            "received": totals["consultations"],
            "answered": totals["consultations_answered"],
            "answered_on_time": totals["consultations_answered_on_time"],
            "answer_rate": _rate(totals["consultations_answered"], totals["consultations"]),
        },
        "total_received": totals["received"] + totals["consultations"],
        "by_sector": [_group("sector", key, figures, catalog.SECTORS.get(key or "")) for key, figures in by_sector],
        "by_channel": [_group("channel", key, figures, None) for key, figures in by_channel],
        "by_issue_type": [_group("issue_type", key, figures, None) for key, figures in by_issue_type],
        "odr_enterprises": {
            "enrolled": await _enrolled(session, region),
            "with_complaints": len(odr),
            "complaints": sum(figures["received"] for figures in odr),
            "settled": sum(figures["settled"] for figures in odr),
            "closed": sum(figures["closed"] for figures in odr),
            "recovered_fen": sum(figures["recovered_fen"] for figures in odr),
        },
        "audit": await _audit(session, region=region, start=start, end=end),
        "stations": {
            "with_cases": await _stations_with_cases(session, everything),
            "cases": stations["received"],
            "closed": stations["closed"],
            "settled": stations["settled"],
            "recovered_fen": stations["recovered_fen"],
            "consultations": stations["consultations"],
        },
    }


def _group(field: str, key: str | None, figures: dict[str, Any], name: str | None) -> dict[str, Any]:
    return {field: key, "name": name, "received": figures["received"], "complaints": figures["complaints"],
            "reports": figures["reports"], "consultations": figures["consultations"], "closed": figures["closed"],
            "recovered_fen": figures["recovered_fen"]}


async def _enrolled(session: AsyncSession, region: str) -> int:
    """ODR enterprises of the region (and below) enrolled and active now, as the enrollment replica says."""
    e = enrolled_table.c
    return int((await session.execute(select(func.count()).where(
        e.region_code.startswith(regions.prefix(region), autoescape=True),
        e.status == EnrollmentStatus.ACTIVE.value))).scalar_one())


async def _stations_with_cases(session: AsyncSession, scope: Scope) -> int:
    """Service stations that filed at least one case of the period in the region."""
    c = complaint_table.c
    return int((await session.execute(select(func.count(func.distinct(c.station_id))).where(
        c.station_id.is_not(None),
        c.region_code.startswith(regions.prefix(scope.region), autoescape=True),
        c.filed_at >= end_of_day(date.fromordinal(scope.start.toordinal() - 1)),
        c.filed_at < end_of_day(scope.end)))).scalar_one())


# What a reviewer can find (mediation's ReviewOutcome); every outcome but `confirmed` is a finding.
REVIEW_OUTCOMES = ("confirmed", "consumer_called_back", "referred_for_enforcement", "agreement_reopened_with_consent")


async def record_review(session: AsyncSession, reviewed: CaseReviewed) -> None:
    """Keep a review for the report (in the inbox's transaction); the same review again changes nothing."""
    await session.execute(insert(AuditReviewFact).values(
        review_id=reviewed.review_id, case_id=reviewed.case_id, complaint_id=reviewed.complaint_id,
        merchant_id=reviewed.merchant_id, region_code=reviewed.region_code, reviewed_at=reviewed.at,
        reviewed_on=local_date(reviewed.at), outcome=reviewed.outcome, finding=reviewed.finding,
        sampled=reviewed.sampled).on_conflict_do_nothing(index_elements=[AuditReviewFact.review_id]))


async def _audit(session: AsyncSession, *, region: str, start: date, end: date) -> dict[str, Any]:
    """Reviews of mediation outcomes recorded on the period's days (not about the cases filed in it: a case filed
    last year may be reviewed this month), in the region and below."""
    f = AuditReviewFact
    rows = (await session.execute(
        select(f.outcome, func.count())
        .where(f.region_code.startswith(regions.prefix(region), autoescape=True),
               f.reviewed_on >= start, f.reviewed_on <= end)
        .group_by(f.outcome))).all()
    by_outcome = {outcome: 0 for outcome in REVIEW_OUTCOMES} | {outcome: count for outcome, count in rows}
    cases = int((await session.execute(
        select(func.count(func.distinct(f.case_id)))
        .where(f.region_code.startswith(regions.prefix(region), autoescape=True),
               f.reviewed_on >= start, f.reviewed_on <= end))).scalar_one())
    return {"cases_reviewed": cases, "reviews": sum(by_outcome.values()),
            "findings": sum(count for outcome, count in by_outcome.items() if outcome != "confirmed"),
            **by_outcome}


# The flat figures of the report, in the order the CSV and the printable page list them: (section, figure, label).
LINES: tuple[tuple[str, str, str], ...] = (
    ("complaints", "received", "投诉受理登记 complaints received"),
    ("complaints", "accepted", "受理 accepted"),
    ("complaints", "refused", "不予受理 refused"),
    ("complaints", "closed", "办结 closed"),
    ("complaints", "closure_rate", "办结率 closure rate"),
    ("complaints", "on_time_initial_review_rate", "按时初查率 on-time initial review rate"),
    ("complaints", "settled", "调解成功 settled"),
    ("complaints", "mediation_success_rate", "调解成功率 mediation success rate"),
    ("complaints", "recovered_fen", "挽回经济损失（分） money recovered, fen"),
    ("reports", "received", "举报 reports received"),
    ("reports", "closed", "办结 closed"),
    ("reports", "closure_rate", "办结率 closure rate"),
    ("reports", "on_time_verification_rate", "按时核查率 on-time verification rate"),
    ("consultations", "received", "咨询 consultations received"),
    ("consultations", "answered", "已答复 answered"),
    ("consultations", "answer_rate", "答复率 answer rate"),
    ("odr_enterprises", "enrolled", "ODR 企业 enrolled ODR enterprises"),
    ("odr_enterprises", "complaints", "ODR 企业投诉 complaints against ODR enterprises"),
    ("odr_enterprises", "settled", "ODR 企业和解/调解成功 settled"),
    ("odr_enterprises", "recovered_fen", "ODR 企业挽回损失（分） recovered, fen"),
    ("audit", "cases_reviewed", "结果审核案件 cases reviewed"),
    ("audit", "findings", "审核发现问题 review findings"),
    ("audit", "confirmed", "维持原结果 confirmed"),
    ("audit", "consumer_called_back", "回访消费者 consumer called back"),
    ("audit", "referred_for_enforcement", "移交执法 referred for enforcement"),
    ("audit", "agreement_reopened_with_consent", "经同意重新协商 agreement reopened with consent"),
    ("stations", "with_cases", "有案件的维权服务站 stations with cases"),
    ("stations", "cases", "服务站受理 station cases"),
    ("stations", "settled", "服务站调解成功 settled at stations"),
)

GROUPS: tuple[tuple[str, str], ...] = (("by_sector", "sector"), ("by_channel", "channel"),
                                       ("by_issue_type", "issue_type"))
GROUP_COLUMNS = ("received", "complaints", "reports", "consultations", "closed", "recovered_fen")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    text = "" if value is None else str(value)
    # A spreadsheet must not run a cell as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(report: dict[str, Any]) -> str:
    """section,figure,label,value lines, then one line per group; UTF-8 with a BOM so Excel and WPS read Chinese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["section", "figure", "label", "value"])
    writer.writerow(["period", "region", "地区 region", report["region"]])
    writer.writerow(["period", "from", "起 from", report["from"].isoformat()])
    writer.writerow(["period", "to", "止 to", report["to"].isoformat()])
    for section, figure, label in LINES:
        writer.writerow([section, figure, label, _cell(report[section][figure])])
    for section, field in GROUPS:
        for group in report[section]:
            for column in GROUP_COLUMNS:
                writer.writerow([section, f"{group[field]}.{column}", group.get("name") or group[field],
                                 _cell(group[column])])
    return "\ufeff" + buffer.getvalue()


def to_html(report: dict[str, Any]) -> str:
    """A printable page (one table per section); the CSV export is linked from it."""
    escape = html.escape
    title = f"{report.get('region_name') or report['region']} {report['from']:%Y-%m-%d} – {report['to']:%Y-%m-%d}"
    rows = "".join(f"<tr><td>{escape(label)}</td><td class=n>{escape(_shown(report[section][figure], figure))}"
                   f"</td></tr>" for section, figure, label in LINES)
    groups = ""
    for section, field in GROUPS:
        header = "".join(f"<th>{column}</th>" for column in GROUP_COLUMNS)
        body = "".join(
            f"<tr><td>{escape(str(group.get('name') or group[field]))}</td>"
            + "".join(f"<td class=n>{escape(str(group[column]))}</td>" for column in GROUP_COLUMNS) + "</tr>"
            for group in report[section]) or f"<tr><td colspan={len(GROUP_COLUMNS) + 1}>—</td></tr>"
        groups += f"<h2>{section}</h2><table><tr><th>{field}</th>{header}</tr>{body}</table>"
    query = f"region={report['region']}&amp;from={report['from']}&amp;to={report['to']}&amp;format=csv"
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        f"<title>消费者权益保护工作报告 {escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #999;padding:.25em .6em}.n{text-align:right}@media print{a{display:none}}"
        f"</style></head><body><h1>消费者权益保护工作报告 {escape(title)}</h1>"
        f"<p><a href=\"?{query}\">CSV</a></p><table>{rows}</table>{groups}</body></html>")


def _shown(value: object, figure: str) -> str:
    if isinstance(value, float) and figure.endswith("rate"):
        return f"{value * 100:.2f}%"
    return str(value)
