"""Evidence the consumer shares with the ODR enterprise: a flag per attachment.

Revision ID: 0008
Revises: 7c5d2a9e41f8
Create Date: 2026-12-04 22:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "7c5d2a9e41f8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("evidence", sa.Column("shared_with_merchant", sa.Boolean(), server_default="false",
                                        nullable=False))


def downgrade() -> None:
    op.drop_column("evidence", "shared_with_merchant")
