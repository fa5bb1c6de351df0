"""The applicant's access to its application: a status token, and the one-time credentials link after approval.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("odr_application", sa.Column("status_token_hash", sa.String(length=64), nullable=True))
    op.add_column("odr_application", sa.Column("retrieval_token_hash", sa.String(length=64), nullable=True))
    op.add_column("odr_application", sa.Column("credentials_expire_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("odr_application", sa.Column("credentials_retrieved_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for column in ("credentials_retrieved_at", "credentials_expire_at", "retrieval_token_hash", "status_token_hash"):
        op.drop_column("odr_application", column)
