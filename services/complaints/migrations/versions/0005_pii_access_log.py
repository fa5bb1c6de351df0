"""PII access log: every full read of a case's personal data by staff (who, when).

Revision ID: d6d05ad90979
Revises: 9d41c0b7e2aa
Create Date: 2026-11-28 04:57:41.302417
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd6d05ad90979'
down_revision: str | None = '9d41c0b7e2aa'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pii_access',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('complaint_id', sa.Uuid(), nullable=False),
    sa.Column('actor_sub', sa.String(length=200), nullable=False),
    sa.Column('actor_region', sa.String(length=6), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaint.id'], name=op.f('fk_pii_access_complaint_id_complaint')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pii_access'))
    )
    op.create_index('ix_pii_access_complaint_id_at', 'pii_access', ['complaint_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pii_access_complaint_id_at', table_name='pii_access')
    op.drop_table('pii_access')
