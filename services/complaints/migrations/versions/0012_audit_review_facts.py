"""The reviews of mediation outcomes the period report counts (issue 15), one row per review from mediation's
`reviewed` events.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'audit_review_fact',
        sa.Column('review_id', sa.Uuid(), nullable=False),
        sa.Column('case_id', sa.Uuid(), nullable=False),
        sa.Column('complaint_id', sa.Uuid(), nullable=False),
        sa.Column('merchant_id', sa.Uuid(), nullable=True),
        sa.Column('region_code', sa.String(length=6), nullable=False),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reviewed_on', sa.Date(), nullable=False),
        sa.Column('outcome', sa.String(length=40), nullable=False),
        sa.Column('finding', sa.Boolean(), nullable=False),
        sa.Column('sampled', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('review_id', name=op.f('pk_audit_review_fact')),
    )
    op.create_index('ix_audit_review_fact_region_code_reviewed_on', 'audit_review_fact',
                    ['region_code', 'reviewed_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_review_fact_region_code_reviewed_on', table_name='audit_review_fact')
    op.drop_table('audit_review_fact')
