"""Consumer-rights service stations: the station that filed a case, and station staff as a timeline actor.

Revision ID: 5a3e8c1f70b2
Revises: d6d05ad90979
Create Date: 2026-11-28 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5a3e8c1f70b2'
down_revision: str | None = 'd6d05ad90979'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR_ROLES_BEFORE = "actor_role IN ('consumer', 'merchant', 'regulator', 'mediator', 'system')"
ACTOR_ROLES_AFTER = "actor_role IN ('consumer', 'merchant', 'regulator', 'mediator', 'station_staff', 'system')"


def upgrade() -> None:
    op.add_column('complaint', sa.Column('station_id', sa.Uuid(), nullable=True))
    op.create_index(op.f('ix_complaint_station_id'), 'complaint', ['station_id'], unique=False)
    op.drop_constraint(op.f('ck_complaint_event_actor_role'), 'complaint_event', type_='check')
    op.create_check_constraint(op.f('ck_complaint_event_actor_role'), 'complaint_event', ACTOR_ROLES_AFTER)


def downgrade() -> None:
    op.drop_constraint(op.f('ck_complaint_event_actor_role'), 'complaint_event', type_='check')
    op.create_check_constraint(op.f('ck_complaint_event_actor_role'), 'complaint_event', ACTOR_ROLES_BEFORE)
    op.drop_index(op.f('ix_complaint_station_id'), table_name='complaint')
    op.drop_column('complaint', 'station_id')
