"""The text-message outbox: sign-in codes and case notifications, encrypted, sent by the SMS dispatcher.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'pending', 'sent', 'failed'"
TEMPLATES = ("'sign_in_code', 'routed_to_enterprise', 'offer_received', 'decision_taken', 'deadline_approaching', "
             "'case_closed'")


def upgrade() -> None:
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("params_enc", sa.LargeBinary(), nullable=False),
        sa.Column("phone_index", sa.LargeBinary(), nullable=True),
        sa.Column("address_index", sa.LargeBinary(), nullable=True),
        sa.Column("dedup_key", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_message_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=120), nullable=True),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_sms_outbox_status")),
        sa.CheckConstraint(f"template IN ({TEMPLATES})", name=op.f("ck_sms_outbox_template")),
        sa.CheckConstraint("complaint_id IS NOT NULL OR phone_enc IS NOT NULL", name=op.f("ck_sms_outbox_recipient")),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"], ondelete="CASCADE",
                                name=op.f("fk_sms_outbox_complaint_id_complaint")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_sms_outbox_dedup_key")),
    )
    op.create_index("ix_sms_outbox_due", "sms_outbox", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_sms_outbox_phone_index", "sms_outbox", ["phone_index", "created_at"])
    op.create_index("ix_sms_outbox_address_index", "sms_outbox", ["address_index", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_address_index", table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_phone_index", table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_due", table_name="sms_outbox")
    op.drop_table("sms_outbox")
