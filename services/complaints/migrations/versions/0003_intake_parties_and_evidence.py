"""Intake of Art. 10-13: ID number, agent and joint parties, online sellers, address blind index; evidence files.

Revision ID: e8b7e23cb285
Revises: 4b7c2e91a0d3
Create Date: 2026-11-28 04:25:22.379477
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'e8b7e23cb285'
down_revision: str | None = '4b7c2e91a0d3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evidence',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('consumer_id', sa.String(length=200), nullable=False),
    sa.Column('complaint_id', sa.Uuid(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('size_bytes > 0', name=op.f('ck_evidence_size_bytes_positive')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaint.id'], name=op.f('fk_evidence_complaint_id_complaint')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence'))
    )
    op.create_index('ix_evidence_complaint_id', 'evidence', ['complaint_id'], unique=False)
    op.create_index(op.f('ix_evidence_consumer_id'), 'evidence', ['consumer_id'], unique=False)
    op.add_column('complaint', sa.Column('complainant_id_number_enc', sa.LargeBinary(), nullable=True))
    op.add_column('complaint', sa.Column('address_index', sa.LargeBinary(), nullable=True))
    op.add_column('complaint', sa.Column('parties_enc', sa.LargeBinary(), nullable=True))
    op.add_column('complaint', sa.Column('has_agent', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('complaint', sa.Column('consumer_count', sa.SmallInteger(), server_default='1', nullable=False))
    op.add_column('complaint', sa.Column('disclosure_consent', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('complaint', sa.Column('online_seller', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_index(op.f('ix_complaint_address_index'), 'complaint', ['address_index'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_complaint_address_index'), table_name='complaint')
    op.drop_column('complaint', 'online_seller')
    op.drop_column('complaint', 'disclosure_consent')
    op.drop_column('complaint', 'consumer_count')
    op.drop_column('complaint', 'has_agent')
    op.drop_column('complaint', 'parties_enc')
    op.drop_column('complaint', 'address_index')
    op.drop_column('complaint', 'complainant_id_number_enc')
    op.drop_index(op.f('ix_evidence_consumer_id'), table_name='evidence')
    op.drop_index('ix_evidence_complaint_id', table_name='evidence')
    op.drop_table('evidence')
