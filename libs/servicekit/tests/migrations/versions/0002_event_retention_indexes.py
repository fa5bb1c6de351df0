"""The indexes servicekit.retention prunes by, as every service adds them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from servicekit.migrations import create_event_retention_indexes, drop_event_retention_indexes

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_event_retention_indexes()


def downgrade() -> None:
    drop_event_retention_indexes()
