"""A filing writes its case row and the case's clock in one statement (`case_numbers.write_filing`), where the
case row's queue trigger cannot see the clock yet. The trigger now keeps the `queue_due_at` a new case is inserted
with while no clock of the case is visible; the clock's own trigger runs at the end of that statement and corrects
the case if the value differs (it does not when the filing computed it right), so the case row is still written
once.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ON_STATUS_AFTER = """
CREATE OR REPLACE FUNCTION complaint_queue_on_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT FROM deadline WHERE complaint_id = NEW.id) THEN
        RETURN NEW;
    END IF;
    NEW.queue_due_at := complaint_queue_due(NEW.id, NEW.status);
    RETURN NEW;
END
$$
"""
ON_STATUS_BEFORE = """
CREATE OR REPLACE FUNCTION complaint_queue_on_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.queue_due_at := complaint_queue_due(NEW.id, NEW.status);
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute(ON_STATUS_AFTER)


def downgrade() -> None:
    op.execute(ON_STATUS_BEFORE)
