"""The registry of consumer-rights service stations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 04:33:52.761010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("host_name", sa.String(length=200), nullable=False),
        sa.Column("host_merchant_id", sa.Uuid(), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_merchant_id"], ["merchant.id"], name=op.f("fk_station_host_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station")),
    )
    op.create_index(op.f("ix_station_region_code"), "station", ["region_code"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_station_region_code"), table_name="station")
    op.drop_table("station")
