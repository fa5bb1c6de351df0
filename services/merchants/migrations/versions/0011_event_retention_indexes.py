"""Indexes the retention job prunes the event tables by (servicekit.retention).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

from servicekit.migrations import create_event_retention_indexes, drop_event_retention_indexes

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_event_retention_indexes()


def downgrade() -> None:
    drop_event_retention_indexes()
