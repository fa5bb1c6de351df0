"""Case changes announced after commit: the trigger `complaint_changed` (migration 0004), which NOTIFYed
`complaints_case` inside every transaction that gave a case row a new version, is dropped. The use cases that give a
case a new version announce it once their transaction has committed (`complaints.live.announce_change`, through
`servicekit.notify`).

A NOTIFY inside a transaction takes, at commit, a lock that every notifying transaction of the server shares, and
holds it through the commit's WAL flush; every case change, in any service's database, waited for the one before.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 13:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP TRIGGER complaint_changed ON complaint")
    op.execute("DROP FUNCTION notify_case_change()")


def downgrade() -> None:
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
