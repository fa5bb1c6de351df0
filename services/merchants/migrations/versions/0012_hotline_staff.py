"""Hotline operators (12315 hotline) as a staff role: they file complaints for callers.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "role IN ('regulator', 'mediator', 'station_staff')"
AFTER = "role IN ('regulator', 'mediator', 'station_staff', 'hotline')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_staff_account_role"), "staff_account", type_="check")
    op.create_check_constraint(op.f("ck_staff_account_role"), "staff_account", AFTER)


def downgrade() -> None:
    op.drop_constraint(op.f("ck_staff_account_role"), "staff_account", type_="check")
    op.create_check_constraint(op.f("ck_staff_account_role"), "staff_account", BEFORE)
