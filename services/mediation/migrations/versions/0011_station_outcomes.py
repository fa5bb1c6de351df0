"""Outcomes a service station settled on the spot: complaints' `closed.v1` names the station (`settled_by_station`),
mediation keeps one `station_settlement` row per such complaint, and `complaint_profile` keeps what the consumer asked
for (from `filed.v1`), so the outcome audit lists these outcomes as the station's beside the mediation cases.
Settlements made before this revision are not back-filled: their events carried no station.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("complaint_profile", sa.Column("request_type", sa.String(length=32), nullable=True))
    op.add_column("complaint_profile", sa.Column("request_amount_fen", sa.BigInteger(), nullable=True))
    op.create_table(
        "station_settlement",
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=True),
        sa.Column("station_id", sa.Uuid(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_station_settlement_amount_fen")),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_station_settlement")),
    )
    op.create_index("ix_station_settlement_region_code_complaint_id", "station_settlement",
                    ["region_code", "complaint_id"])


def downgrade() -> None:
    op.drop_index("ix_station_settlement_region_code_complaint_id", table_name="station_settlement")
    op.drop_table("station_settlement")
    op.drop_column("complaint_profile", "request_amount_fen")
    op.drop_column("complaint_profile", "request_type")
