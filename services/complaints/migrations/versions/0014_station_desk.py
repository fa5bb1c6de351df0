"""The station desk: a walk-in's identity checked on the spot (document type, when, by whom; the number is sealed in
complainant_id_number_enc) and when the station settled a case itself.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_DOCUMENTS = ("resident_id_card", "hk_macao_permit", "taiwan_permit", "passport", "foreign_permanent_residence")


def upgrade() -> None:
    op.add_column("complaint", sa.Column("identity_document", sa.String(length=32), nullable=True))
    op.add_column("complaint", sa.Column("identity_checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("complaint", sa.Column("identity_checked_by", sa.String(length=200), nullable=True))
    op.add_column("complaint", sa.Column("station_settled_at", sa.DateTime(timezone=True), nullable=True))
    allowed = ", ".join(f"'{value}'" for value in ID_DOCUMENTS)
    op.create_check_constraint(op.f("ck_complaint_identity_document"), "complaint",
                               f"identity_document IN ({allowed})")
    # Cases the station settled when filing them, before this column: their timeline says so.
    op.execute("""
        UPDATE complaint SET station_settled_at = e.at
        FROM complaint_event e
        WHERE e.complaint_id = complaint.id AND e.details->>'code' = 'settled_at_station'
    """)


def downgrade() -> None:
    op.drop_constraint(op.f("ck_complaint_identity_document"), "complaint", type_="check")
    op.drop_column("complaint", "station_settled_at")
    op.drop_column("complaint", "identity_checked_by")
    op.drop_column("complaint", "identity_checked_at")
    op.drop_column("complaint", "identity_document")
