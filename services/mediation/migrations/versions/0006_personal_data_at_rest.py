"""Attachments' original file names kept encrypted; the indexes the retention job prunes the event tables by.

A case attachment's original name (a consumer's file name can be personal data) becomes `filename_enc` (AES-GCM with
the service's PII key, bound to the attachment); rows already there are encrypted here with ODR_PII_KEY. The outbox
and inbox get the indexes servicekit.retention prunes by.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mediation.settings import MediationSettings
from servicekit.migrations import create_event_retention_indexes, drop_event_retention_indexes
from servicekit.pii import PiiCipher

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cipher() -> PiiCipher:
    return PiiCipher(MediationSettings().pii_key.get_secret_value())


def upgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    op.add_column("case_attachment", sa.Column("filename_enc", sa.LargeBinary(), nullable=True))
    for attachment_id, filename in bind.execute(sa.text("SELECT id, filename FROM case_attachment")).all():
        sealed = cipher.encrypt(filename, context=f"case_attachment:{attachment_id}:filename")
        bind.execute(sa.text("UPDATE case_attachment SET filename_enc = :sealed WHERE id = :id"),
                     {"sealed": sealed, "id": attachment_id})
    op.alter_column("case_attachment", "filename_enc", nullable=False)
    op.drop_column("case_attachment", "filename")
    create_event_retention_indexes()


def downgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    drop_event_retention_indexes()
    op.add_column("case_attachment", sa.Column("filename", sa.String(255), nullable=True))
    for attachment_id, sealed in bind.execute(sa.text("SELECT id, filename_enc FROM case_attachment")).all():
        name = cipher.decrypt(sealed, context=f"case_attachment:{attachment_id}:filename")
        bind.execute(sa.text("UPDATE case_attachment SET filename = :name WHERE id = :id"),
                     {"name": name, "id": attachment_id})
    op.alter_column("case_attachment", "filename", nullable=False)
    op.drop_column("case_attachment", "filename_enc")
