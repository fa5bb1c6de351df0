"""What people wrote kept encrypted (AES-GCM with the service's PII key, bound to "<table>:<id>:<field>"): a
complaint's facts and its decision note (`complaint.facts_enc`, `complaint.decision_note_enc`), a clock's extension
reason (`deadline.extension_reason_enc`), and the timeline's note (`complaint_event.note_enc`) with the details a
person wrote ("text", "reason") moved out of `details` into one sealed JSON document (`complaint_event.written_enc`).
Rows already there are encrypted here with ODR_PII_KEY, and the downgrade decrypts them back.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 03:40:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from complaints.settings import ComplaintsSettings
from servicekit.migrations import open_columns, seal_columns
from servicekit.pii import PiiCipher

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its encrypted fields, each with whether it is required
FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "complaint": (("facts", True), ("decision_note", False)),
    "deadline": (("extension_reason", False),),
    "complaint_event": (("note", False),),
}
# complaint_event.details keys that hold what a person wrote (complaint.state.WRITTEN_PARAMS)
WRITTEN_PARAMS = ("reason", "text")


def _cipher() -> PiiCipher:
    return PiiCipher(ComplaintsSettings().pii_key.get_secret_value())


def upgrade() -> None:
    cipher = _cipher()
    seal_columns(FIELDS, cipher)
    _seal_written_details(op.get_bind(), cipher)


def _seal_written_details(bind: sa.Connection, cipher: PiiCipher) -> None:
    op.add_column("complaint_event", sa.Column("written_enc", sa.LargeBinary(), nullable=True))
    rows = bind.execute(sa.text("SELECT id, details FROM complaint_event WHERE jsonb_exists_any(details, :keys)"),
                        {"keys": list(WRITTEN_PARAMS)}).all()
    for row_id, details in rows:
        written = {key: details.pop(key) for key in WRITTEN_PARAMS if key in details}
        sealed = cipher.encrypt(json.dumps(written, ensure_ascii=False), context=f"complaint_event:{row_id}:written")
        bind.execute(sa.text("UPDATE complaint_event SET written_enc = :sealed, details = CAST(:details AS jsonb) "
                             "WHERE id = :id"), {"sealed": sealed, "details": json.dumps(details), "id": row_id})


def _open_written_details(bind: sa.Connection, cipher: PiiCipher) -> None:
    rows = bind.execute(sa.text("SELECT id, details, written_enc FROM complaint_event WHERE written_enc IS NOT NULL"))
    for row_id, details, sealed in rows.all():
        written = json.loads(cipher.decrypt(sealed, context=f"complaint_event:{row_id}:written"))
        bind.execute(sa.text("UPDATE complaint_event SET details = CAST(:details AS jsonb) WHERE id = :id"),
                     {"details": json.dumps({**(details or {}), **written}), "id": row_id})
    op.drop_column("complaint_event", "written_enc")


def downgrade() -> None:
    cipher = _cipher()
    _open_written_details(op.get_bind(), cipher)
    open_columns(FIELDS, cipher)
