"""Session families of enterprise portal users (kind merchant_portal), refreshed like staff members'.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 03:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = "kind IN ('consumer', 'staff')"
KINDS_AFTER = "kind IN ('consumer', 'staff', 'merchant_portal')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_session_family_kind"), "session_family", type_="check")
    op.create_check_constraint(op.f("ck_session_family_kind"), "session_family", KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM session_family WHERE kind = 'merchant_portal'")
    op.drop_constraint(op.f("ck_session_family_kind"), "session_family", type_="check")
    op.create_check_constraint(op.f("ck_session_family_kind"), "session_family", KINDS_BEFORE)
