"""Case lifecycle: reports beside complaints, regulator decisions, ratings, clock states and extensions.

Revision ID: 4b7c2e91a0d3
Revises: e1f9d71fcd8d
Create Date: 2026-11-28 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '4b7c2e91a0d3'
down_revision: str | None = 'e1f9d71fcd8d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPLAINT_STATUSES = ("'submitted', 'with_merchant', 'pending_acceptance', 'accepted', 'closed_settled', "
                      "'closed_terminated', 'closed_refused', 'withdrawn'")
REPORT_STATUSES = "'received', 'verifying', 'case_opened', 'not_opened'"


def upgrade() -> None:
    for column in ('complainant_name_enc', 'complainant_phone_enc', 'phone_index'):
        op.alter_column('complaint', column, existing_type=sa.LargeBinary(), nullable=True)
    op.add_column('complaint', sa.Column('linked_case_id', sa.Uuid(), nullable=True))
    op.add_column('complaint', sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('complaint', sa.Column('decided_by', sa.String(length=200), nullable=True))
    op.add_column('complaint', sa.Column('decision_note', sa.Text(), nullable=True))
    op.add_column('complaint', sa.Column('refusal_ground', sa.SmallInteger(), nullable=True))
    op.add_column('complaint', sa.Column('other_routes', sa.Text(), nullable=True))
    op.add_column('complaint', sa.Column('case_opened', sa.Boolean(), nullable=True))
    op.add_column('complaint', sa.Column('rating_score', sa.SmallInteger(), nullable=True))
    op.add_column('complaint', sa.Column('rating_text', sa.Text(), nullable=True))
    op.add_column('complaint', sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint(op.f('ck_complaint_status'), 'complaint', type_='check')
    op.create_check_constraint(op.f('ck_complaint_status'), 'complaint',
                               f"status IN ({COMPLAINT_STATUSES}, {REPORT_STATUSES})")
    op.create_check_constraint(op.f('ck_complaint_refusal_ground_art_16'), 'complaint',
                               'refusal_ground BETWEEN 1 AND 7')
    op.create_check_constraint(op.f('ck_complaint_rating_score_range'), 'complaint', 'rating_score BETWEEN 1 AND 5')

    op.add_column('deadline', sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('deadline', sa.Column('extended_days', sa.Integer(), server_default='0', nullable=False))
    op.add_column('deadline', sa.Column('extension_approved_by', sa.String(length=200), nullable=True))
    op.add_column('deadline', sa.Column('extension_reason', sa.Text(), nullable=True))
    op.drop_constraint(op.f('ck_deadline_kind'), 'deadline', type_='check')
    op.create_check_constraint(op.f('ck_deadline_kind'), 'deadline',
                               "kind IN ('merchant_negotiation', 'initial_review', 'report_verification')")
    op.drop_constraint(op.f('ck_deadline_state'), 'deadline', type_='check')
    op.create_check_constraint(op.f('ck_deadline_state'), 'deadline',
                               "state IN ('running', 'extended', 'paused', 'met', 'breached', 'ended')")
    op.drop_index('ix_deadline_running_due_at', table_name='deadline', postgresql_where=sa.text("state = 'running'"))
    op.create_index('ix_deadline_ticking_due_at', 'deadline', ['due_at'], unique=False,
                    postgresql_where=sa.text("state IN ('running', 'extended')"))


def downgrade() -> None:
    op.drop_index('ix_deadline_ticking_due_at', table_name='deadline',
                  postgresql_where=sa.text("state IN ('running', 'extended')"))
    op.create_index('ix_deadline_running_due_at', 'deadline', ['due_at'], unique=False,
                    postgresql_where=sa.text("state = 'running'"))
    op.drop_constraint(op.f('ck_deadline_state'), 'deadline', type_='check')
    op.create_check_constraint(op.f('ck_deadline_state'), 'deadline',
                               "state IN ('running', 'met', 'breached', 'paused')")
    op.drop_constraint(op.f('ck_deadline_kind'), 'deadline', type_='check')
    op.create_check_constraint(op.f('ck_deadline_kind'), 'deadline',
                               "kind IN ('merchant_negotiation', 'initial_review')")
    for column in ('extension_reason', 'extension_approved_by', 'extended_days', 'ended_at'):
        op.drop_column('deadline', column)
    op.drop_constraint(op.f('ck_complaint_rating_score_range'), 'complaint', type_='check')
    op.drop_constraint(op.f('ck_complaint_refusal_ground_art_16'), 'complaint', type_='check')
    op.drop_constraint(op.f('ck_complaint_status'), 'complaint', type_='check')
    op.create_check_constraint(op.f('ck_complaint_status'), 'complaint', f"status IN ({COMPLAINT_STATUSES})")
    for column in ('rated_at', 'rating_text', 'rating_score', 'case_opened', 'other_routes', 'refusal_ground',
                   'decision_note', 'decided_by', 'decided_at', 'linked_case_id'):
        op.drop_column('complaint', column)
    for column in ('phone_index', 'complainant_phone_enc', 'complainant_name_enc'):
        op.alter_column('complaint', column, existing_type=sa.LargeBinary(), nullable=False)
