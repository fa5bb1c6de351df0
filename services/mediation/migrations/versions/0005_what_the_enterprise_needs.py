"""What the enterprise needs to answer: purchase, classification and the evidence shared with it, per case.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 22:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("mediation_case", sa.Column("order_no", sa.String(length=100), nullable=True))
    op.add_column("mediation_case", sa.Column("purchase_date", sa.Date(), nullable=True))
    op.add_column("mediation_case", sa.Column("purchase_amount_fen", sa.BigInteger(), nullable=True))
    op.add_column("mediation_case", sa.Column("sector", sa.String(length=64), nullable=True))
    op.add_column("mediation_case", sa.Column("category", sa.String(length=128), nullable=True))
    op.add_column("mediation_case", sa.Column("issue_type", sa.String(length=32), nullable=True))
    op.add_column("mediation_case", sa.Column("shared_evidence", postgresql.JSONB(), server_default="[]",
                                              nullable=False))


def downgrade() -> None:
    for column in ("shared_evidence", "issue_type", "category", "sector", "purchase_amount_fen", "purchase_date",
                   "order_no"):
        op.drop_column("mediation_case", column)
