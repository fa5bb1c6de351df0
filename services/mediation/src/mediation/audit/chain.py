"""The per-region hash chain of outcomes: append inside a use case's transaction, verify from the rows alone."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.agreements.models import SettlementAgreement
from mediation.agreements.service import agreement_hash
from mediation.audit.models import AuditChainHead, AuditEntry, AuditReview
from mediation.canonical import canonical_json, sha256_hex
from mediation.cases.models import MediationCase
from servicekit.db import new_id
from servicekit.pii import PiiCipher

GENESIS_HASH = "0" * 64
REVIEWED = "reviewed"
VERIFY_BATCH = 1_000
# Entry details that hold what a person wrote (a proof's reference, a reviewer's note): the stored entry keeps them
# sealed (`details["sealed"]`, base64 AES-GCM of their JSON, bound to "audit_entry:<id>:details"); the hash covers the
# entry with them in clear (`opened_entry`), so entries written before the seal still verify.
WRITTEN_KEYS = ("note", "reference")


def _details_context(entry_id: uuid.UUID) -> str:
    return f"audit_entry:{entry_id}:details"


def sealed_entry(entry: dict[str, Any], entry_id: uuid.UUID, cipher: PiiCipher | None) -> dict[str, Any]:
    """The entry as stored: its written details sealed."""
    details = dict(entry.get("details") or {})
    written = {key: details.pop(key) for key in WRITTEN_KEYS if details.get(key) is not None}
    if not written:
        return entry
    if cipher is None:
        raise ValueError(f"audit entry {entry.get('kind')} carries written text but no cipher to seal it with")
    sealed = cipher.encrypt(json.dumps(written, ensure_ascii=False), context=_details_context(entry_id))
    return entry | {"details": details | {"sealed": base64.b64encode(sealed).decode()}}


def opened_entry(entry: dict[str, Any], entry_id: uuid.UUID, cipher: PiiCipher) -> dict[str, Any]:
    """The canonical entry the hash covers: the sealed details opened back into place."""
    details = dict(entry.get("details") or {})
    sealed = details.pop("sealed", None)
    if sealed is None:
        return entry
    written = json.loads(cipher.decrypt(base64.b64decode(sealed), context=_details_context(entry_id)))
    return entry | {"details": details | written}


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash followed by the canonical JSON of the entry."""
    return sha256_hex(prev_hash + canonical_json(entry))


async def append(session: AsyncSession, *, region_code: str, case_id: uuid.UUID, kind: str, at: datetime,
                 details: dict[str, Any], cipher: PiiCipher | None = None) -> AuditEntry:
    """Append one entry to the region's chain; the head row lock serializes concurrent appends of a region. Details
    a person wrote (WRITTEN_KEYS) are sealed with `cipher`, which a caller passing any must give."""
    await session.execute(insert(AuditChainHead).values(region_code=region_code, seq=0, hash=GENESIS_HASH)
                          .on_conflict_do_nothing(index_elements=[AuditChainHead.region_code]))
    head = (await session.execute(
        select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.region_code == region_code)
        .with_for_update())).one()
    seq = head.seq + 1
    entry = {"region_code": region_code, "seq": seq, "case_id": str(case_id), "kind": kind,
             "at": at.isoformat(), "details": details}
    digest = entry_hash(head.hash, entry)
    entry_id = new_id()
    row = AuditEntry(id=entry_id, region_code=region_code, seq=seq, case_id=case_id, kind=kind,
                     entry=sealed_entry(entry, entry_id, cipher), prev_hash=head.hash, hash=digest)
    session.add(row)
    await session.execute(update(AuditChainHead).where(AuditChainHead.region_code == region_code)
                          .values(seq=seq, hash=digest))
    await session.flush()
    return row


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_broken: dict[str, Any] | None


async def verify(db: AsyncSession, region_code: str, cipher: PiiCipher) -> Verification:
    """Recompute the region's chain in seq order; name the first entry whose links or hash do not hold. The cipher
    opens the sealed parts of what the hashes cover (an agreement's note)."""
    expected_prev, expected_seq, count, last_seq = GENESIS_HASH, 1, 0, None
    while True:
        query = (select(AuditEntry.id, AuditEntry.seq, AuditEntry.case_id, AuditEntry.kind, AuditEntry.entry,
                        AuditEntry.prev_hash, AuditEntry.hash)
                 .where(AuditEntry.region_code == region_code).order_by(AuditEntry.seq).limit(VERIFY_BATCH))
        if last_seq is not None:
            query = query.where(AuditEntry.seq > last_seq)
        rows = (await db.execute(query)).all()
        if not rows:
            break
        agreements = await _agreement_hashes(db, rows, cipher)
        reviews = await _review_outcomes(db, rows)
        for row in rows:
            problem = (_broken_link(row, expected_prev, expected_seq, region_code, cipher)
                       or _outcome_changed(row, agreements)
                       or _review_changed(row, reviews))
            if problem is not None:
                return Verification(ok=False, entries=count, first_broken={
                    "id": str(row.id), "seq": row.seq, "case_id": str(row.case_id), "kind": row.kind,
                    "reason": problem})
            expected_prev, expected_seq, count = row.hash, expected_seq + 1, count + 1
        last_seq = rows[-1].seq
    head = (await db.execute(select(AuditChainHead.seq, AuditChainHead.hash)
                             .where(AuditChainHead.region_code == region_code))).one_or_none()
    if head is not None and (head.seq, head.hash) != (count, expected_prev):
        # Entries were removed from the end: the head still remembers how long the chain was.
        return Verification(ok=False, entries=count, first_broken={
            "id": None, "seq": count + 1, "case_id": None, "kind": None, "reason": "missing"})
    return Verification(ok=True, entries=count, first_broken=None)


async def _agreement_hashes(db: AsyncSession, rows: Sequence[Any], cipher: PiiCipher) -> dict[str, tuple[str, int]]:
    """Agreement id -> (content hash recomputed from its row now, amount) for the agreements these entries name."""
    ids = {row.entry.get("details", {}).get("agreement_id") for row in rows} - {None}
    if not ids:
        return {}
    found = (await db.execute(select(SettlementAgreement, MediationCase)
                              .join(MediationCase, MediationCase.id == SettlementAgreement.case_id)
                              .where(SettlementAgreement.id.in_([uuid.UUID(value) for value in ids])))).all()
    return {str(agreement.id): (agreement_hash(agreement, case, cipher), agreement.amount_fen)
            for agreement, case in found}


async def _review_outcomes(db: AsyncSession, rows: Sequence[Any]) -> dict[str, str | None]:
    """Review id -> the outcome its row holds now, for the reviews these entries name."""
    ids = {row.entry.get("details", {}).get("review_id") for row in rows if row.kind == REVIEWED} - {None}
    if not ids:
        return {}
    found = (await db.execute(select(AuditReview.id, AuditReview.outcome)
                              .where(AuditReview.id.in_([uuid.UUID(value) for value in ids])))).all()
    return {str(review_id): outcome for review_id, outcome in found}


def _review_changed(row: Any, reviews: dict[str, str | None]) -> str | None:
    """A review entry must still match its review row: the figures are counted from those rows."""
    if row.kind != REVIEWED:
        return None
    details = row.entry.get("details", {})
    if reviews.get(details.get("review_id")) != details.get("outcome"):
        return "review"
    return None


def _outcome_changed(row: Any, agreements: dict[str, tuple[str, int]]) -> str | None:
    """An entry naming an agreement must still match the agreement row: its content hash and its amount."""
    details = row.entry.get("details", {})
    if "agreement_id" not in details:
        return None
    current = agreements.get(details["agreement_id"])
    if current is None or current[0] != details.get("agreement_hash"):
        return "agreement"
    if "amount_fen" in details and current[1] != details["amount_fen"]:
        return "agreement"
    return None


def _broken_link(row: Any, expected_prev: str, expected_seq: int, region_code: str, cipher: PiiCipher) -> str | None:
    if row.seq != expected_seq:
        return "missing"
    if row.prev_hash != expected_prev:
        return "prev_hash"
    if row.entry.get("seq") != row.seq or row.entry.get("region_code") != region_code:
        return "entry"
    if entry_hash(row.prev_hash, opened_entry(row.entry, row.id, cipher)) != row.hash:
        return "hash"
    return None
