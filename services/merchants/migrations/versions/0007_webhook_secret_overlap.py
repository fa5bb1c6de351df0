"""The previous webhook secret, kept for dual signing while enterprises switch to a new one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 04:50:32.548701
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_endpoint", sa.Column("previous_secret_encrypted", sa.LargeBinary(), nullable=True))
    op.add_column("webhook_endpoint", sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_endpoint", "previous_secret_until")
    op.drop_column("webhook_endpoint", "previous_secret_encrypted")
