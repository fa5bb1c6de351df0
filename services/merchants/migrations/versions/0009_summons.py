"""Summons (约谈) records: a regulator's meeting with an enterprise about its complaints.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "summons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("attendees", postgresql.JSONB(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("undertakings", postgresql.JSONB(), nullable=False),
        sa.Column("case_nos", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_region", sa.String(length=6), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], name=op.f("fk_summons_merchant_id_merchant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summons")),
    )
    op.create_index("ix_summons_merchant_id_held_on", "summons", ["merchant_id", "held_on"])
    op.create_index("ix_summons_region_code", "summons", ["region_code"])


def downgrade() -> None:
    op.drop_index("ix_summons_region_code", table_name="summons")
    op.drop_index("ix_summons_merchant_id_held_on", table_name="summons")
    op.drop_table("summons")
