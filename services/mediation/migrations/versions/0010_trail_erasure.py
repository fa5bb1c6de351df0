"""The case trail stays append-only except for one change: erasing what the consumer wrote. Inside a transaction that
declares an erasure (`SELECT set_config('odr.erasure', 'on', true)`), an UPDATE may set `written_enc` to NULL on rows
whose actor is the consumer and change nothing else; every other UPDATE, every DELETE and TRUNCATE is refused as
before. The statement-level trigger lets an UPDATE through to the row-level check only inside such a transaction; the
new row-level trigger (the same function) compares each row with its old self. The downgrade restores the function
that refuses everything and drops the row-level trigger; rows already erased stay erased.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 04:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column but `written_enc` compared through its row's JSON, so a column added later is covered without
# touching this function.
ERASURE_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION case_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND coalesce(current_setting('odr.erasure', true), '') = 'on' THEN
        IF TG_LEVEL = 'STATEMENT' THEN
            RETURN NULL;
        END IF;
        IF OLD.actor_role = 'consumer' AND NEW.written_enc IS NULL
                AND to_jsonb(NEW) - 'written_enc' = to_jsonb(OLD) - 'written_enc' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'case_event is append-only (an erasure only empties what the consumer wrote)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'case_event is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""
ERASURE_ONLY_TRIGGER = """
CREATE TRIGGER case_event_erasure_only BEFORE UPDATE ON case_event
    FOR EACH ROW EXECUTE FUNCTION case_event_append_only()
"""
FORBID_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION case_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_event is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.execute(ERASURE_ONLY_FUNCTION)
    op.execute(ERASURE_ONLY_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER case_event_erasure_only ON case_event")
    op.execute(FORBID_CHANGE_FUNCTION)
