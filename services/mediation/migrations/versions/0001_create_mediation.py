"""Create the mediation case, its append-only event trail, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 04:01:41.201122
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from servicekit.migrations import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit trail is evidence: the database itself refuses to change or remove its rows.
FORBID_CHANGE_FUNCTION = """
CREATE FUNCTION case_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_event is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""
FORBID_CHANGE_TRIGGER = """
CREATE TRIGGER case_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON case_event
    FOR EACH STATEMENT EXECUTE FUNCTION case_event_append_only()
"""


def upgrade() -> None:
    create_event_tables()
    op.create_table(
        "mediation_case",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=True),
        sa.Column("consumer_id", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("complainant_name", sa.LargeBinary(), nullable=False),
        sa.Column("complainant_phone_masked", sa.String(length=32), nullable=False),
        sa.Column("request_type", sa.String(length=32), nullable=False),
        sa.Column("request_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "status IN ('negotiating', 'mediating', 'suspended', 'settled', 'failed', 'terminated')",
            name=op.f("ck_mediation_case_status"),
        ),
        sa.CheckConstraint(
            "request_amount_fen IS NULL OR request_amount_fen >= 0", name=op.f("ck_mediation_case_request_amount_fen")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mediation_case")),
        sa.UniqueConstraint("complaint_id", name=op.f("uq_mediation_case_complaint_id")),
    )
    op.create_index(op.f("ix_mediation_case_consumer_id"), "mediation_case", ["consumer_id"], unique=False)
    op.create_index("ix_mediation_case_merchant_id_id", "mediation_case", ["merchant_id", "id"], unique=False)
    op.create_index(op.f("ix_mediation_case_region_code"), "mediation_case", ["region_code"], unique=False)
    op.create_table(
        "case_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=200), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mediation_case.id"], name=op.f("fk_case_event_case_id_mediation_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_event")),
    )
    op.create_index(op.f("ix_case_event_case_id"), "case_event", ["case_id"], unique=False)
    op.execute(FORBID_CHANGE_FUNCTION)
    op.execute(FORBID_CHANGE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER case_event_append_only ON case_event")
    op.execute("DROP FUNCTION case_event_append_only()")
    op.drop_index(op.f("ix_case_event_case_id"), table_name="case_event")
    op.drop_table("case_event")
    drop_event_tables()
    op.drop_index(op.f("ix_mediation_case_region_code"), table_name="mediation_case")
    op.drop_index("ix_mediation_case_merchant_id_id", table_name="mediation_case")
    op.drop_index(op.f("ix_mediation_case_consumer_id"), table_name="mediation_case")
    op.drop_table("mediation_case")
