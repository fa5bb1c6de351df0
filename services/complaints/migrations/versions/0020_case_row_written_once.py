"""A filing writes its case row once: the rows that point at the case (timeline, clocks, attachments, text
messages, a consultation filed as a complaint) may be written before it in the same transaction, since their
foreign keys are now checked at commit. The case row itself is then inserted with its case number by the
filing's last statement, where it used to be inserted with a provisional number and then updated twice (the
clock's queue time, then the number): each update a new row version and an entry in every one of the table's
eleven indexes.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 03:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its foreign key to complaint
DEFERRED = {
    "complaint_event": "fk_complaint_event_complaint_id_complaint",
    "deadline": "fk_deadline_complaint_id_complaint",
    "evidence": "fk_evidence_complaint_id_complaint",
    "sms_outbox": "fk_sms_outbox_complaint_id_complaint",
    "consultation": "fk_consultation_complaint_id_complaint",
}


def upgrade() -> None:
    for table, constraint in DEFERRED.items():
        op.execute(f"ALTER TABLE {table} ALTER CONSTRAINT {constraint} DEFERRABLE INITIALLY DEFERRED")


def downgrade() -> None:
    for table, constraint in DEFERRED.items():
        op.execute(f"ALTER TABLE {table} ALTER CONSTRAINT {constraint} NOT DEFERRABLE")
