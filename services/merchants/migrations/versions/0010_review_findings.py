"""Scorecard facts: regulator reviews of a case's outcome and their findings (mediation.case.reviewed.v1).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("scorecard_case", sa.Column("reviews", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column("scorecard_case",
                  sa.Column("review_findings", sa.SmallInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("scorecard_case", "review_findings")
    op.drop_column("scorecard_case", "reviews")
