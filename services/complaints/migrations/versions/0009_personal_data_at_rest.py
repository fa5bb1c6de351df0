"""Personal data at rest: stored idempotent responses and evidence file names encrypted; retention indexes.

The stored response of a filing held the complainant's phone, ID number and address in clear: it becomes
`response_enc` (AES-GCM with the service's PII key, bound to its principal and key) with the case number beside it
(`case_no`, written by `case_numbers.take_number`). An evidence file's original name becomes `filename_enc`. Rows
already there are encrypted here with the service's key (ODR_PII_KEY). The outbox and inbox get the indexes their
retention job prunes by.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from alembic import op

from complaints.settings import ComplaintsSettings
from servicekit.migrations import create_event_retention_indexes, drop_event_retention_indexes
from servicekit.pii import PiiCipher

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cipher() -> PiiCipher:
    return PiiCipher(ComplaintsSettings().pii_key.get_secret_value())


def upgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    op.add_column("idempotency_key", sa.Column("response_enc", sa.LargeBinary(), nullable=True))
    op.add_column("idempotency_key", sa.Column("case_no", sa.String(40), nullable=True))
    rows = bind.execute(sa.text("SELECT principal_sub, key, response_body FROM idempotency_key")).all()
    for principal_sub, key, body in rows:
        case_no = body.pop("case_no", None)
        sealed = cipher.encrypt(orjson.dumps(body).decode(), context=f"idempotency_key:{principal_sub}:{key}")
        bind.execute(sa.text("UPDATE idempotency_key SET response_enc = :sealed, case_no = :case_no"
                             " WHERE principal_sub = :principal_sub AND key = :key"),
                     {"sealed": sealed, "case_no": case_no, "principal_sub": principal_sub, "key": key})
    op.alter_column("idempotency_key", "response_enc", nullable=False)
    op.drop_column("idempotency_key", "response_body")
    op.create_index("ix_idempotency_key_created_at", "idempotency_key", ["created_at"])

    op.add_column("evidence", sa.Column("filename_enc", sa.LargeBinary(), nullable=True))
    for evidence_id, filename in bind.execute(sa.text("SELECT id, filename FROM evidence")).all():
        bind.execute(sa.text("UPDATE evidence SET filename_enc = :sealed WHERE id = :id"),
                     {"sealed": cipher.encrypt(filename, context=f"evidence:{evidence_id}:filename"),
                      "id": evidence_id})
    op.alter_column("evidence", "filename_enc", nullable=False)
    op.drop_column("evidence", "filename")

    create_event_retention_indexes()


def downgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    drop_event_retention_indexes()

    op.add_column("evidence", sa.Column("filename", sa.String(255), nullable=True))
    for evidence_id, sealed in bind.execute(sa.text("SELECT id, filename_enc FROM evidence")).all():
        bind.execute(sa.text("UPDATE evidence SET filename = :name WHERE id = :id"),
                     {"name": cipher.decrypt(sealed, context=f"evidence:{evidence_id}:filename"), "id": evidence_id})
    op.alter_column("evidence", "filename", nullable=False)
    op.drop_column("evidence", "filename_enc")

    op.drop_index("ix_idempotency_key_created_at", table_name="idempotency_key")
    op.add_column("idempotency_key", sa.Column("response_body", sa.dialects.postgresql.JSONB(), nullable=True))
    rows = bind.execute(sa.text("SELECT principal_sub, key, response_enc, case_no FROM idempotency_key")).all()
    for principal_sub, key, sealed, case_no in rows:
        body = orjson.loads(cipher.decrypt(sealed, context=f"idempotency_key:{principal_sub}:{key}"))
        if case_no is not None:
            body["case_no"] = case_no
        bind.execute(sa.text("UPDATE idempotency_key SET response_body = CAST(:body AS jsonb)"
                             " WHERE principal_sub = :principal_sub AND key = :key"),
                     {"body": orjson.dumps(body).decode(), "principal_sub": principal_sub, "key": key})
    op.alter_column("idempotency_key", "response_body", nullable=False)
    op.drop_column("idempotency_key", "case_no")
    op.drop_column("idempotency_key", "response_enc")
