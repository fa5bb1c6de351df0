"""Reveals of personal data: the regulator's case detail masks the parties, and every full read is a reveal with a
purpose, logged in `pii_access` with the staff member's role, the fields shown and an encrypted note.

Rows written before this migration are detail reads that showed everything: they get purpose `case_detail`, role
`regulator` (the only staff role that could read a detail then, with mediators) and every complainant field.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES = ("contact_party", "verify_identity", "mediation", "investigation", "transfer", "legal_assistance", "other",
            "case_detail")


def upgrade() -> None:
    op.add_column("pii_access", sa.Column("actor_role", sa.String(length=16), nullable=True))
    op.add_column("pii_access", sa.Column("fields", postgresql.ARRAY(sa.String(length=16)), nullable=True))
    op.add_column("pii_access", sa.Column("purpose", sa.String(length=32), nullable=True))
    op.add_column("pii_access", sa.Column("note_enc", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE pii_access SET actor_role = 'regulator', purpose = 'case_detail', "
               "fields = ARRAY['name', 'phone', 'address', 'id_number', 'agent', 'joint']::varchar(16)[]")
    for column in ("actor_role", "fields", "purpose"):
        op.alter_column("pii_access", column, nullable=False)
    op.create_check_constraint(op.f("ck_pii_access_purpose"), "pii_access",
                               "purpose IN ({})".format(", ".join(f"'{p}'" for p in PURPOSES)))


def downgrade() -> None:
    op.drop_constraint(op.f("ck_pii_access_purpose"), "pii_access", type_="check")
    for column in ("note_enc", "purpose", "fields", "actor_role"):
        op.drop_column("pii_access", column)
