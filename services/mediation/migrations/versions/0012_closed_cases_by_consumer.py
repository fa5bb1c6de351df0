"""An index of closed cases by consumer and enterprise, for the refiling check each case opening makes: before it,
the check read every case of the consumer (an index on the consumer alone) and filtered out the open ones, a cost that
grew with the consumer's cases (17 ms per opening at 3,600 cases in the soak, where mediation fell behind).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_mediation_case_closed_by_consumer", "mediation_case",
                    ["consumer_id", "merchant_id", "closed_at"], postgresql_where=sa.text("closed_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_mediation_case_closed_by_consumer", table_name="mediation_case")
