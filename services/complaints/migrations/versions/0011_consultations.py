"""Consultations (咨询), the third track; the source ticket of a case transferred in bulk from 12315 or 12345; and the
consultation figures in the statistics (three more counts, a consultation's contribution under kind `consultation`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS_BEFORE = ("app", "web", "mini_program", "hotline", "transfer_12345", "station", "consumer_association",
                   "partner_api", "staff")
CHANNELS_AFTER = (*CHANNELS_BEFORE, "transfer_12315")
ACTOR_ROLES = ("consumer", "merchant", "regulator", "mediator", "station_staff", "hotline", "system")

COUNTS_BEFORE = ("received", "complaints", "reports", "accepted", "refused", "initial_reviews_due",
                 "initial_reviews_on_time", "closed", "closed_on_time", "settled", "terminated", "recovered_fen",
                 "report_verifications_due", "report_verifications_on_time")
NEW_COUNTS = ("consultations", "consultations_answered", "consultations_answered_on_time")
COUNTS_AFTER = (*COUNTS_BEFORE, *NEW_COUNTS)
STATS_TABLES = ("stats_case", "stats_delta", "stats_day", "stats_month", "stats_merchant_day", "stats_merchant_month")

# The contribution view as 0010 made it (with the issue type as its last column), then the three new counts.
COMPLAINT_CONTRIBUTION = """
SELECT c.id AS complaint_id,
       (c.filed_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
       c.region_code, c.kind, c.sector, c.channel, c.merchant_id,
       1 AS received,
       (c.kind = 'complaint')::int AS complaints,
       (c.kind = 'report')::int AS reports,
       (c.accepted_at IS NOT NULL)::int AS accepted,
       (c.refusal_ground IS NOT NULL)::int AS refused,
       coalesce(clocks.ir_due, 0)::int AS initial_reviews_due,
       coalesce(clocks.ir_on_time, 0)::int AS initial_reviews_on_time,
       (c.closed_at IS NOT NULL)::int AS closed,
       (c.closed_at IS NOT NULL AND NOT coalesce(clocks.breached, false))::int AS closed_on_time,
       (c.status = 'closed_settled')::int AS settled,
       (c.status = 'closed_terminated')::int AS terminated,
       c.recovered_fen::bigint AS recovered_fen,
       coalesce(clocks.rv_due, 0)::int AS report_verifications_due,
       coalesce(clocks.rv_on_time, 0)::int AS report_verifications_on_time,
       c.issue_type{extra}
FROM complaint c
LEFT JOIN (
    SELECT complaint_id,
           bool_or(state = 'breached') AS breached,
           count(*) FILTER (WHERE kind = 'initial_review' AND state IN ('met', 'breached')) AS ir_due,
           count(*) FILTER (WHERE kind = 'initial_review' AND state = 'met' AND met_at <= due_at) AS ir_on_time,
           count(*) FILTER (WHERE kind = 'report_verification' AND state IN ('met', 'breached')) AS rv_due,
           count(*) FILTER (WHERE kind = 'report_verification' AND state = 'met' AND met_at <= due_at) AS rv_on_time
    FROM deadline
    GROUP BY complaint_id
) clocks ON clocks.complaint_id = c.id
"""

# A consultation counts nowhere but in its own three figures; `received` stays complaints and reports. It has no
# issue type: the cubes, whose keys cannot be NULL, keep it under `other` (stats.service.CONSULTATION_ISSUE_TYPE).
# The columns follow stats_case's order: the counts of 0007, the issue type of 0010, the counts added here.
CONSULTATION_CONTRIBUTION = """
SELECT q.id AS complaint_id,
       (q.filed_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
       q.region_code, 'consultation'::varchar AS kind, q.sector, q.channel, NULL::uuid AS merchant_id,
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0::bigint, 0, 0,
       'other'::varchar AS issue_type,
       1 AS consultations,
       (q.answered_at IS NOT NULL)::int AS consultations_answered,
       (q.answered_at IS NOT NULL AND q.clock_state = 'met')::int AS consultations_answered_on_time
FROM consultation q
"""


def _view(with_consultations: bool) -> str:
    if not with_consultations:
        return "CREATE VIEW stats_case_contribution AS " + COMPLAINT_CONTRIBUTION.format(extra="")
    extra = ",\n       " + ", ".join(f"0 AS {name}" for name in NEW_COUNTS)
    return ("CREATE VIEW stats_case_contribution AS " + COMPLAINT_CONTRIBUTION.format(extra=extra)
            + "UNION ALL" + CONSULTATION_CONTRIBUTION)


# The dimensions a delta row carries, as 0010 left them (the issue type last).
_KEYS = ("day", "region_code", "kind", "sector", "channel", "merchant_id", "issue_type")


def _refresh_function(counts: Sequence[str]) -> str:
    """stats_refresh_case as 0010 made it, over `counts`."""
    delta_columns = ", ".join((*_KEYS, *counts))
    old_values = ", ".join((*(f"previous.{key}" for key in _KEYS), *(f"-previous.{name}" for name in counts)))
    new_values = ", ".join((*(f"current.{key}" for key in _KEYS), *(f"current.{name}" for name in counts)))
    difference = ", ".join((*(f"current.{key}" for key in _KEYS),
                            *(f"current.{name} - previous.{name}" for name in counts)))
    same_keys = " AND ".join(f"current.{key} IS NOT DISTINCT FROM previous.{key}" for key in _KEYS)
    case_update = ", ".join(f"{column} = excluded.{column}" for column in (*_KEYS, *counts))
    return f"""
CREATE OR REPLACE FUNCTION stats_refresh_case(case_id uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    previous stats_case%ROWTYPE;
    current stats_case%ROWTYPE;
BEGIN
    -- The lock serialises every refresh of one case; the reads below take a snapshot after it, so a refresh never
    -- works from a state older than the one the previous refresh wrote.
    SELECT * INTO previous FROM stats_case WHERE complaint_id = case_id FOR UPDATE;
    SELECT * INTO current FROM stats_case_contribution WHERE complaint_id = case_id;
    IF previous IS NOT DISTINCT FROM current THEN
        RETURN;
    END IF;
    IF previous.complaint_id IS NOT NULL AND current.complaint_id IS NOT NULL AND {same_keys} THEN
        INSERT INTO stats_delta ({delta_columns}) VALUES ({difference});
    ELSE
        IF previous.complaint_id IS NOT NULL THEN
            INSERT INTO stats_delta ({delta_columns}) VALUES ({old_values});
        END IF;
        IF current.complaint_id IS NOT NULL THEN
            INSERT INTO stats_delta ({delta_columns}) VALUES ({new_values});
        END IF;
    END IF;
    IF current.complaint_id IS NULL THEN
        DELETE FROM stats_case WHERE complaint_id = case_id;
    ELSE
        INSERT INTO stats_case SELECT current.* ON CONFLICT (complaint_id) DO UPDATE SET {case_update};
    END IF;
END
$$
"""


_CONSULTATION_COLUMNS = ("filed_at", "region_code", "sector", "channel", "answered_at", "clock_state")
CONSULTATION_TRIGGERS = {
    # stats_on_complaint_change refreshes the row's id, whatever its table.
    "stats_consultation_insert_delete": "AFTER INSERT OR DELETE ON consultation DEFERRABLE INITIALLY DEFERRED "
                                        "FOR EACH ROW EXECUTE FUNCTION stats_on_complaint_change()",
    "stats_consultation_update": "AFTER UPDATE ON consultation DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ("
                                 + " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}"
                                               for column in _CONSULTATION_COLUMNS)
                                 + ") EXECUTE FUNCTION stats_on_complaint_change()",
}


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.drop_constraint(op.f('ck_complaint_channel'), 'complaint', type_='check')
    op.create_check_constraint(op.f('ck_complaint_channel'), 'complaint', _in("channel", CHANNELS_AFTER))
    # The ticket number of a case transferred from the national 12315 platform or the 12345 hotline
    # ("12315:<ticket>"): a re-import of the same export files nothing twice.
    op.add_column('complaint', sa.Column('source_ticket', sa.String(length=80), nullable=True))
    op.create_index('uq_complaint_source_ticket', 'complaint', ['source_ticket'], unique=True,
                    postgresql_where=sa.text('source_ticket IS NOT NULL'))
    op.create_table(
        'consultation',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('case_no', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('region_code', sa.String(length=6), nullable=False),
        sa.Column('consumer_id', sa.String(length=200), nullable=False),
        sa.Column('asker_name_enc', sa.LargeBinary(), nullable=True),
        sa.Column('asker_phone_enc', sa.LargeBinary(), nullable=True),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('sector', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('station_id', sa.Uuid(), nullable=True),
        sa.Column('filed_by_role', sa.String(length=16), nullable=False),
        sa.Column('filed_by', sa.String(length=200), nullable=True),
        sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('clock_state', sa.String(length=16), nullable=False),
        sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answered_by', sa.String(length=200), nullable=True),
        sa.Column('complaint_id', sa.Uuid(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.CheckConstraint("status IN ('open', 'answered')", name=op.f('ck_consultation_status')),
        sa.CheckConstraint(_in("channel", CHANNELS_AFTER), name=op.f('ck_consultation_channel')),
        sa.CheckConstraint(_in("filed_by_role", ACTOR_ROLES), name=op.f('ck_consultation_filed_by_role')),
        sa.CheckConstraint("clock_state IN ('running', 'met', 'breached')", name=op.f('ck_consultation_clock_state')),
        sa.ForeignKeyConstraint(['complaint_id'], ['complaint.id'],
                                name=op.f('fk_consultation_complaint_id_complaint')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation')),
        sa.UniqueConstraint('case_no', name=op.f('uq_consultation_case_no')),
        sa.UniqueConstraint('complaint_id', name=op.f('uq_consultation_complaint_id')),
    )
    op.create_index('ix_consultation_consumer_id_id', 'consultation', ['consumer_id', sa.text('id DESC')])
    op.create_index('ix_consultation_region_code_id', 'consultation', ['region_code', sa.text('id DESC')],
                    postgresql_ops={'region_code': 'varchar_pattern_ops'})
    op.create_index('ix_consultation_running_due_at', 'consultation', ['due_at'],
                    postgresql_where=sa.text("clock_state = 'running'"))
    op.create_table(
        'consultation_event',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('consultation_id', sa.Uuid(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('actor_role', sa.String(length=16), nullable=False),
        sa.Column('actor_id', sa.String(length=200), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('details', sa.dialects.postgresql.JSONB(), nullable=True),
        sa.CheckConstraint(_in("actor_role", ACTOR_ROLES), name=op.f('ck_consultation_event_actor_role')),
        sa.ForeignKeyConstraint(['consultation_id'], ['consultation.id'],
                                name=op.f('fk_consultation_event_consultation_id_consultation')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_event')),
    )
    op.create_index('ix_consultation_event_consultation_id_at', 'consultation_event', ['consultation_id', 'at'])

    # Statistics: three more counts everywhere, and consultations in the contribution view.
    op.execute("DROP VIEW stats_case_contribution")
    for table in STATS_TABLES:
        for name in NEW_COUNTS:
            op.execute(f"ALTER TABLE {table} ADD COLUMN {name} integer NOT NULL DEFAULT 0")
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {name} DROP DEFAULT")
    op.execute(_view(with_consultations=True))
    op.execute(_refresh_function(COUNTS_AFTER))
    for name, definition in CONSULTATION_TRIGGERS.items():
        op.execute(f"CREATE CONSTRAINT TRIGGER {name} {definition}")


def downgrade() -> None:
    for name in CONSULTATION_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON consultation")
    op.execute("DROP VIEW stats_case_contribution")
    # Consultations leave the figures: their rows go from every stats table before the columns do.
    for table in STATS_TABLES:
        op.execute(f"DELETE FROM {table} WHERE kind = 'consultation'")
        for name in NEW_COUNTS:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
    op.execute("DROP FUNCTION stats_refresh_case(uuid)")
    op.execute(_refresh_function(COUNTS_BEFORE).replace("CREATE OR REPLACE", "CREATE"))
    op.execute(_view(with_consultations=False))
    op.drop_table('consultation_event')
    op.drop_table('consultation')
    op.drop_index('uq_complaint_source_ticket', table_name='complaint')
    op.drop_column('complaint', 'source_ticket')
    op.execute("UPDATE complaint SET channel = 'staff' WHERE channel = 'transfer_12315'")
    op.drop_constraint(op.f('ck_complaint_channel'), 'complaint', type_='check')
    op.create_check_constraint(op.f('ck_complaint_channel'), 'complaint', _in("channel", CHANNELS_BEFORE))
