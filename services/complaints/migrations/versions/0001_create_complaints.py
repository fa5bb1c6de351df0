"""Create the complaints schema.

complaint, its timeline and deadlines, idempotency keys, case-number counters, the ODR replica, outbox, inbox.

Revision ID: e1f9d71fcd8d
Revises:
Create Date: 2026-11-28 03:58:50.538517
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from servicekit.migrations import create_event_tables, drop_event_tables

revision: str = 'e1f9d71fcd8d'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_event_tables()
    op.create_table('case_number_counter',
    sa.Column('prefix', sa.String(length=8), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', 'region_code', 'day', name=op.f('pk_case_number_counter'))
    )
    op.create_table('complaint',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_no', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('consumer_id', sa.String(length=200), nullable=False),
    sa.Column('green_channel', sa.Boolean(), nullable=False),
    sa.Column('complainant_name_enc', sa.LargeBinary(), nullable=False),
    sa.Column('complainant_phone_enc', sa.LargeBinary(), nullable=False),
    sa.Column('complainant_address_enc', sa.LargeBinary(), nullable=True),
    sa.Column('phone_index', sa.LargeBinary(), nullable=False),
    sa.Column('merchant_id', sa.Uuid(), nullable=True),
    sa.Column('respondent_name', sa.String(length=200), nullable=False),
    sa.Column('respondent_address', sa.String(length=500), nullable=True),
    sa.Column('respondent_uscc', sa.String(length=18), nullable=True),
    sa.Column('respondent_region_code', sa.String(length=6), nullable=True),
    sa.Column('request_type', sa.String(length=16), nullable=False),
    sa.Column('request_amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('facts', sa.Text(), nullable=False),
    sa.Column('purchase_date', sa.Date(), nullable=True),
    sa.Column('purchase_amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('purchase_order_no', sa.String(length=100), nullable=True),
    sa.Column('sector', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=128), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('mediation_case_id', sa.Uuid(), nullable=True),
    sa.Column('recovered_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('routed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint(
        "channel IN ('app', 'web', 'mini_program', 'hotline', 'transfer_12345', 'station', "
        "'consumer_association', 'partner_api', 'staff')",
        name=op.f('ck_complaint_channel')),
    sa.CheckConstraint("kind IN ('complaint', 'report', 'both')", name=op.f('ck_complaint_kind')),
    sa.CheckConstraint(
        "request_type IN ('refund', 'exchange', 'repair', 'compensation', 'other')",
        name=op.f('ck_complaint_request_type')),
    sa.CheckConstraint(
        "status IN ('submitted', 'with_merchant', 'pending_acceptance', 'accepted', 'closed_settled', "
        "'closed_terminated', 'closed_refused', 'withdrawn')",
        name=op.f('ck_complaint_status')),
    sa.CheckConstraint('purchase_amount_fen >= 0', name=op.f('ck_complaint_purchase_amount_fen_non_negative')),
    sa.CheckConstraint('recovered_fen >= 0', name=op.f('ck_complaint_recovered_fen_non_negative')),
    sa.CheckConstraint('request_amount_fen >= 0', name=op.f('ck_complaint_request_amount_fen_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint')),
    sa.UniqueConstraint('case_no', name=op.f('uq_complaint_case_no'))
    )
    op.create_index(
        'ix_complaint_consumer_id_id', 'complaint', ['consumer_id', sa.literal_column('id DESC')], unique=False)
    op.create_index(op.f('ix_complaint_merchant_id'), 'complaint', ['merchant_id'], unique=False)
    op.create_index(op.f('ix_complaint_phone_index'), 'complaint', ['phone_index'], unique=False)
    op.create_index(
        'ix_complaint_region_code_id', 'complaint', ['region_code', sa.literal_column('id DESC')], unique=False,
        postgresql_ops={'region_code': 'varchar_pattern_ops'})
    op.create_table('enrolled_merchant',
    sa.Column('merchant_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('sector', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'suspended', 'revoked')", name=op.f('ck_enrolled_merchant_status')),
    sa.PrimaryKeyConstraint('merchant_id', name=op.f('pk_enrolled_merchant'))
    )
    op.create_table('idempotency_key',
    sa.Column('principal_sub', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=False),
    sa.Column('response_body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('principal_sub', 'key', name=op.f('pk_idempotency_key'))
    )
    op.create_table('complaint_event',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('complaint_id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint(
        "actor_role IN ('consumer', 'merchant', 'regulator', 'mediator', 'system')",
        name=op.f('ck_complaint_event_actor_role')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaint.id'], name=op.f('fk_complaint_event_complaint_id_complaint')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_event'))
    )
    op.create_index('ix_complaint_event_complaint_id_at', 'complaint_event', ['complaint_id', 'at'], unique=False)
    op.create_table('deadline',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('complaint_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('met_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('merchant_negotiation', 'initial_review')", name=op.f('ck_deadline_kind')),
    sa.CheckConstraint("state IN ('running', 'met', 'breached', 'paused')", name=op.f('ck_deadline_state')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaint.id'], name=op.f('fk_deadline_complaint_id_complaint')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline'))
    )
    op.create_index('ix_deadline_complaint_id', 'deadline', ['complaint_id'], unique=False)
    op.create_index(
        'ix_deadline_running_due_at', 'deadline', ['due_at'], unique=False,
        postgresql_where=sa.text("state = 'running'"))


def downgrade() -> None:
    op.drop_index('ix_deadline_running_due_at', table_name='deadline', postgresql_where=sa.text("state = 'running'"))
    op.drop_index('ix_deadline_complaint_id', table_name='deadline')
    op.drop_table('deadline')
    op.drop_index('ix_complaint_event_complaint_id_at', table_name='complaint_event')
    op.drop_table('complaint_event')
    drop_event_tables()
    op.drop_table('idempotency_key')
    op.drop_table('enrolled_merchant')
    op.drop_index('ix_complaint_region_code_id', table_name='complaint')
    op.drop_index(op.f('ix_complaint_phone_index'), table_name='complaint')
    op.drop_index(op.f('ix_complaint_merchant_id'), table_name='complaint')
    op.drop_index('ix_complaint_consumer_id_id', table_name='complaint')
    op.drop_table('complaint')
    op.drop_table('case_number_counter')
