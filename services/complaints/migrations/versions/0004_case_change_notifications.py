"""Case change notifications: NOTIFY complaints_case with the case id whenever a case row gets a new version.

The consumer's event stream (GET /v1/consumer/complaints/{id}/stream) listens on this channel, so a change made by
any process (an API replica, a consumer of mediation events, the breach sweeper) reaches every open stream.

Revision ID: 9d41c0b7e2aa
Revises: e8b7e23cb285
Create Date: 2026-11-28 04:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '9d41c0b7e2aa'
down_revision: str | None = 'e8b7e23cb285'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION notify_case_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('complaints_case', NEW.id::text);
            RETURN NULL;
        END
        $$
    """)
    op.execute("""
        CREATE TRIGGER complaint_changed AFTER UPDATE ON complaint
        FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
        EXECUTE FUNCTION notify_case_change()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER complaint_changed ON complaint")
    op.execute("DROP FUNCTION notify_case_change()")
