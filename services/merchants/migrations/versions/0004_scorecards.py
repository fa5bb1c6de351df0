"""Scorecard facts per complaint routed to an enterprise, and the warnings and suspension proposals raised.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 04:32:10.712247
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scorecard_case",
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_status", sa.String(length=32), nullable=True),
        sa.Column("fulfilment_confirmed", sa.Boolean(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], name=op.f("fk_scorecard_case_merchant_id_merchant")),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_scorecard_case")),
    )
    op.create_index(
        "ix_scorecard_case_merchant_received", "scorecard_case", ["merchant_id", "received_at"], unique=False
    )
    op.create_table(
        "scorecard_flag",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("scorecard", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.CheckConstraint("level IN ('warning', 'suspension_proposed')", name=op.f("ck_scorecard_flag_level")),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('recovered', 'confirmed', 'dismissed')",
            name=op.f("ck_scorecard_flag_resolution"),
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], name=op.f("fk_scorecard_flag_merchant_id_merchant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_flag")),
    )
    op.create_index(op.f("ix_scorecard_flag_merchant_id"), "scorecard_flag", ["merchant_id"], unique=False)
    op.create_index(
        "uq_scorecard_flag_open",
        "scorecard_flag",
        ["merchant_id", "level"],
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_scorecard_flag_open", table_name="scorecard_flag", postgresql_where=sa.text("resolved_at IS NULL")
    )
    op.drop_index(op.f("ix_scorecard_flag_merchant_id"), table_name="scorecard_flag")
    op.drop_table("scorecard_flag")
    op.drop_index("ix_scorecard_case_merchant_received", table_name="scorecard_case")
    op.drop_table("scorecard_case")
