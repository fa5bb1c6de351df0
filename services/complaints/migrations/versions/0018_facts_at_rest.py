"""A complaint's facts kept encrypted: `complaint.facts` becomes `facts_enc` (AES-GCM with the service's PII key,
bound to "complaint:<id>:facts"); rows already there are encrypted here with ODR_PII_KEY, and the downgrade decrypts
them back.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from complaints.settings import ComplaintsSettings
from servicekit.pii import PiiCipher

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its encrypted fields, each with whether it is required
FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {"complaint": (("facts", True),)}


def _cipher() -> PiiCipher:
    return PiiCipher(ComplaintsSettings().pii_key.get_secret_value())


def upgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    for table, fields in FIELDS.items():
        for field, required in fields:
            op.add_column(table, sa.Column(f"{field}_enc", sa.LargeBinary(), nullable=True))
            rows = bind.execute(sa.text(f"SELECT id, {field} FROM {table} WHERE {field} IS NOT NULL")).all()
            for row_id, value in rows:
                sealed = cipher.encrypt(value, context=f"{table}:{row_id}:{field}")
                bind.execute(sa.text(f"UPDATE {table} SET {field}_enc = :sealed WHERE id = :id"),
                             {"sealed": sealed, "id": row_id})
            if required:
                op.alter_column(table, f"{field}_enc", nullable=False)
            op.drop_column(table, field)


def downgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    for table, fields in FIELDS.items():
        for field, required in fields:
            op.add_column(table, sa.Column(field, sa.Text(), nullable=True))
            rows = bind.execute(sa.text(f"SELECT id, {field}_enc FROM {table} WHERE {field}_enc IS NOT NULL")).all()
            for row_id, sealed in rows:
                value = cipher.decrypt(sealed, context=f"{table}:{row_id}:{field}")
                bind.execute(sa.text(f"UPDATE {table} SET {field} = :value WHERE id = :id"),
                             {"value": value, "id": row_id})
            if required:
                op.alter_column(table, field, nullable=False)
            op.drop_column(table, f"{field}_enc")
