"""Enterprise portal accounts: staff accounts of an ODR enterprise (merchant_id, roles enterprise_admin and
enterprise_agent), their one-time activation code, and the audit trail of their changes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = "role IN ('regulator', 'mediator', 'station_staff', 'hotline')"
ROLES_AFTER = "role IN ('regulator', 'mediator', 'station_staff', 'hotline', 'enterprise_admin', 'enterprise_agent')"
PORTAL_MERCHANT = "(merchant_id IS NOT NULL) = (role IN ('enterprise_admin', 'enterprise_agent'))"


def upgrade() -> None:
    op.add_column("staff_account", sa.Column("merchant_id", sa.Uuid(), nullable=True))
    op.add_column("staff_account", sa.Column("activation_code_hash", sa.String(length=255), nullable=True))
    op.add_column("staff_account", sa.Column("activation_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.alter_column("staff_account", "password_hash", existing_type=sa.String(length=255), nullable=True)
    op.create_foreign_key(op.f("fk_staff_account_merchant_id_merchant"), "staff_account", "merchant",
                          ["merchant_id"], ["id"])
    op.create_index(op.f("ix_staff_account_merchant_id"), "staff_account", ["merchant_id"])
    op.drop_constraint(op.f("ck_staff_account_role"), "staff_account", type_="check")
    op.create_check_constraint(op.f("ck_staff_account_role"), "staff_account", ROLES_AFTER)
    op.create_check_constraint(op.f("ck_staff_account_portal_merchant"), "staff_account", PORTAL_MERCHANT)
    op.create_table(
        "portal_user_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["staff_account.id"],
                                name=op.f("fk_portal_user_event_account_id_staff_account")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"],
                                name=op.f("fk_portal_user_event_merchant_id_merchant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_user_event")),
    )
    op.create_index(op.f("ix_portal_user_event_account_id"), "portal_user_event", ["account_id"])
    op.create_index(op.f("ix_portal_user_event_merchant_id"), "portal_user_event", ["merchant_id"])


def downgrade() -> None:
    op.drop_table("portal_user_event")
    op.execute("DELETE FROM staff_account WHERE merchant_id IS NOT NULL")
    op.drop_constraint(op.f("ck_staff_account_portal_merchant"), "staff_account", type_="check")
    op.drop_constraint(op.f("ck_staff_account_role"), "staff_account", type_="check")
    op.create_check_constraint(op.f("ck_staff_account_role"), "staff_account", ROLES_BEFORE)
    op.drop_index(op.f("ix_staff_account_merchant_id"), table_name="staff_account")
    op.drop_constraint(op.f("fk_staff_account_merchant_id_merchant"), "staff_account", type_="foreignkey")
    op.alter_column("staff_account", "password_hash", existing_type=sa.String(length=255), nullable=False)
    op.drop_column("staff_account", "activation_expires_at")
    op.drop_column("staff_account", "activation_code_hash")
    op.drop_column("staff_account", "merchant_id")
