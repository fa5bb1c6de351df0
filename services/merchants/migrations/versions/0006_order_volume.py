"""Monthly order volumes reported by enterprises (complaints per 1,000 orders).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 04:43:53.147607
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_volume",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("extract(day from month) = 1", name=op.f("ck_order_volume_first_of_month")),
        sa.CheckConstraint("orders >= 0", name=op.f("ck_order_volume_orders")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], name=op.f("fk_order_volume_merchant_id_merchant")),
        sa.PrimaryKeyConstraint("merchant_id", "month", name=op.f("pk_order_volume")),
    )


def downgrade() -> None:
    op.drop_table("order_volume")
