"""What people wrote kept encrypted (AES-GCM with the service's PII key, bound to "<table>:<id>:<field>"): a case's
facts and termination note, an offer's note, a proof of fulfilment's reference, note and answer note, the note an
agreement's terms copy (`note_sealed` in the terms, base64, "settlement_agreement:<id>:terms.note"; the content hash
still covers the note in clear, so it holds) and the trail's written details ("note", "reference" moved out of
`case_event.details` into one sealed JSON document, `case_event.written_enc`; the append-only trigger is paused for
this rewrite only), the reviews' notes, and the audit chain's written details (a proof's reference, a reviewer's
note: `details["sealed"]` in `audit_entry.entry`, "audit_entry:<id>:details"; the hashes cover the entries with them
in clear, so the chain still verifies). Rows already there are encrypted here with ODR_PII_KEY, and the downgrade
decrypts them back.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 03:40:00
"""

import base64
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mediation.settings import MediationSettings
from servicekit.migrations import open_columns, seal_columns
from servicekit.pii import PiiCipher

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its encrypted fields, each with whether it is required
FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "mediation_case": (("facts", True), ("termination_note", False)),
    "offer": (("note", False),),
    "fulfilment_proof": (("reference", True), ("note", False), ("answer_note", False)),
    "case_review": (("note", False),),
    "audit_review": (("note", False),),
}
# case_event.details keys that hold what a person wrote (cases.trail.WRITTEN_KEYS)
WRITTEN_KEYS = ("note", "reference")
APPEND_ONLY_TRIGGER = "case_event_append_only"


def _cipher() -> PiiCipher:
    return PiiCipher(MediationSettings().pii_key.get_secret_value())


def upgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    seal_columns(FIELDS, cipher)
    _seal_agreement_notes(bind, cipher)
    _seal_trail_details(bind, cipher)
    _seal_chain_details(bind, cipher)


def _seal_chain_details(bind: sa.Connection, cipher: PiiCipher) -> None:
    rows = bind.execute(sa.text("SELECT id, entry FROM audit_entry WHERE jsonb_exists_any(entry->'details', :keys)"),
                        {"keys": list(WRITTEN_KEYS)}).all()
    for row_id, entry in rows:
        details = entry["details"]
        written = {key: details.pop(key) for key in WRITTEN_KEYS if details.get(key) is not None}
        if not written:
            continue
        sealed = cipher.encrypt(json.dumps(written, ensure_ascii=False), context=f"audit_entry:{row_id}:details")
        details["sealed"] = base64.b64encode(sealed).decode()
        bind.execute(sa.text("UPDATE audit_entry SET entry = CAST(:entry AS jsonb) WHERE id = :id"),
                     {"entry": json.dumps(entry), "id": row_id})


def _open_chain_details(bind: sa.Connection, cipher: PiiCipher) -> None:
    rows = bind.execute(sa.text("SELECT id, entry FROM audit_entry WHERE jsonb_exists(entry->'details', 'sealed')"))
    for row_id, entry in rows.all():
        details = entry["details"]
        sealed = base64.b64decode(details.pop("sealed"))
        details.update(json.loads(cipher.decrypt(sealed, context=f"audit_entry:{row_id}:details")))
        bind.execute(sa.text("UPDATE audit_entry SET entry = CAST(:entry AS jsonb) WHERE id = :id"),
                     {"entry": json.dumps(entry), "id": row_id})


def _note_context(agreement_id: object) -> str:
    return f"settlement_agreement:{agreement_id}:terms.note"


def _seal_agreement_notes(bind: sa.Connection, cipher: PiiCipher) -> None:
    rows = bind.execute(sa.text("SELECT id, terms FROM settlement_agreement WHERE terms->>'note' IS NOT NULL")).all()
    for row_id, terms in rows:
        sealed = base64.b64encode(cipher.encrypt(terms.pop("note"), context=_note_context(row_id))).decode()
        bind.execute(sa.text("UPDATE settlement_agreement SET terms = CAST(:terms AS jsonb) WHERE id = :id"),
                     {"terms": json.dumps({**terms, "note_sealed": sealed}), "id": row_id})


def _open_agreement_notes(bind: sa.Connection, cipher: PiiCipher) -> None:
    rows = bind.execute(sa.text(
        "SELECT id, terms FROM settlement_agreement WHERE jsonb_exists(terms, 'note_sealed')")).all()
    for row_id, terms in rows:
        note = cipher.decrypt(base64.b64decode(terms.pop("note_sealed")), context=_note_context(row_id))
        bind.execute(sa.text("UPDATE settlement_agreement SET terms = CAST(:terms AS jsonb) WHERE id = :id"),
                     {"terms": json.dumps({**terms, "note": note}), "id": row_id})


def _seal_trail_details(bind: sa.Connection, cipher: PiiCipher) -> None:
    op.add_column("case_event", sa.Column("written_enc", sa.LargeBinary(), nullable=True))
    op.execute(f"ALTER TABLE case_event DISABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    rows = bind.execute(sa.text("SELECT id, details FROM case_event WHERE jsonb_exists_any(details, :keys)"),
                        {"keys": list(WRITTEN_KEYS)}).all()
    for row_id, details in rows:
        written = {key: details.pop(key) for key in WRITTEN_KEYS if key in details}
        written = {key: value for key, value in written.items() if value is not None}
        sealed = (cipher.encrypt(json.dumps(written, ensure_ascii=False), context=f"case_event:{row_id}:written")
                  if written else None)
        bind.execute(sa.text("UPDATE case_event SET written_enc = :sealed, details = CAST(:details AS jsonb) "
                             "WHERE id = :id"), {"sealed": sealed, "details": json.dumps(details), "id": row_id})
    op.execute(f"ALTER TABLE case_event ENABLE TRIGGER {APPEND_ONLY_TRIGGER}")


def _open_trail_details(bind: sa.Connection, cipher: PiiCipher) -> None:
    op.execute(f"ALTER TABLE case_event DISABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    rows = bind.execute(sa.text("SELECT id, details, written_enc FROM case_event WHERE written_enc IS NOT NULL"))
    for row_id, details, sealed in rows.all():
        written = json.loads(cipher.decrypt(sealed, context=f"case_event:{row_id}:written"))
        bind.execute(sa.text("UPDATE case_event SET details = CAST(:details AS jsonb) WHERE id = :id"),
                     {"details": json.dumps({**(details or {}), **written}), "id": row_id})
    op.execute(f"ALTER TABLE case_event ENABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    op.drop_column("case_event", "written_enc")


def downgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    _open_chain_details(bind, cipher)
    _open_trail_details(bind, cipher)
    _open_agreement_notes(bind, cipher)
    open_columns(FIELDS, cipher)
