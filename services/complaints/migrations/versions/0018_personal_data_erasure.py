"""When a closed case's personal data was erased after its retention period (PIPL Art. 47); the anonymised case row
stays for the statistics.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("complaint", sa.Column("personal_data_erased_at", sa.DateTime(timezone=True), nullable=True))
    # The retention job's scan: closed cases not yet erased, oldest closure first.
    op.create_index("ix_complaint_erasable", "complaint", ["closed_at"],
                    postgresql_where=sa.text("closed_at IS NOT NULL AND personal_data_erased_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_complaint_erasable", table_name="complaint")
    op.drop_column("complaint", "personal_data_erased_at")
