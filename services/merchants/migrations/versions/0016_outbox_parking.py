"""Outbox rows the broker refuses for good are parked aside, with their error (servicekit.events.relay).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

from servicekit.migrations import add_outbox_parking, drop_outbox_parking

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_parking()


def downgrade() -> None:
    drop_outbox_parking()
