"""Staff sign-in beyond passwords (issue 14): TOTP, lockout, forced password change, staff administrators,
per-region sign-in policy and the staff audit trail.

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

ACCOUNT_COLUMNS = (
    sa.Column("display_name_enc", sa.LargeBinary(), nullable=True),
    sa.Column("staff_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    sa.Column("must_change_password", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("totp_secret_enc", sa.LargeBinary(), nullable=True),
    sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
    sa.Column("failed_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    sa.Column("failure_window_started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
)


def upgrade() -> None:
    for column in ACCOUNT_COLUMNS:
        op.add_column("staff_account", column)
    op.create_table(
        "staff_region_policy",
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("totp_required", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_staff_region_policy")),
    )
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_region", sa.String(length=6), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("detail", postgresql.JSONB(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["staff_account.id"],
                                name=op.f("fk_staff_audit_account_id_staff_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_audit")),
    )
    op.create_index(op.f("ix_staff_audit_at"), "staff_audit", ["at"])
    op.create_index(op.f("ix_staff_audit_account_id"), "staff_audit", ["account_id"])
    op.create_index(op.f("ix_staff_audit_region_code"), "staff_audit", ["region_code"])


def downgrade() -> None:
    op.drop_table("staff_audit")
    op.drop_table("staff_region_policy")
    for column in reversed(ACCOUNT_COLUMNS):
        op.drop_column("staff_account", column.name)
