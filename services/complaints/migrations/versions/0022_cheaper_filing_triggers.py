"""The work a filing's triggers do in PostgreSQL, made cheaper with the same results (issue 18).

- `complaint_queue_due` becomes PL/pgSQL with the same query: a SQL function that cannot be inlined (it reads a
  table) is parsed and planned again in every statement that calls it, about 0.15 ms a call; PL/pgSQL keeps its
  plan for the session. It stays STABLE, so it still reads with the snapshot of the statement calling it.
- The clock's queue trigger (`complaint_queue_on_deadline`) first checks, with a read, whether the case's
  `queue_due_at` differs from what its clocks give, and runs its UPDATE (unchanged) only then. A filing inserts the
  case with the right value in the same statement as its clock (migration 0021), so it no longer starts an UPDATE
  of `complaint` that changes nothing.
- A case's statistics contribution is read from the part of `stats_case_contribution` its table feeds: the view
  becomes the UNION ALL of `stats_complaint_contribution` and `stats_consultation_contribution` (the same
  definitions, so `stats.service.rebuild`, which reads it, is unchanged), and `stats_refresh_case` reads the
  complaint part first and the consultation part only when the id is not a complaint's.
- `ix_complaint_station_id` and `ix_complaint_merchant_id` become partial (`IS NOT NULL`): every query on those
  columns compares them with a value (`station_id = :id`, `merchant_id = :id`, a count of stations among rows
  `WHERE station_id IS NOT NULL`), so the cases filed by no station and against no enrolled enterprise, most of
  them, no longer add an index entry that no query reads.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The clock of a case's current stage: the latest clock of the kind its status runs, unless met or ended.
_QUEUE_DUE_QUERY = """
    SELECT CASE WHEN d.state IN ('running', 'extended', 'paused', 'breached') THEN d.due_at END
    FROM deadline d
    WHERE d.complaint_id = case_id
      AND d.kind = CASE case_status WHEN 'with_merchant' THEN 'merchant_negotiation'
                                    WHEN 'pending_acceptance' THEN 'initial_review'
                                    WHEN 'received' THEN 'report_verification'
                                    WHEN 'verifying' THEN 'report_verification' END
    ORDER BY d.started_at DESC, d.id DESC
    LIMIT 1"""
QUEUE_DUE_AFTER = f"""
CREATE OR REPLACE FUNCTION complaint_queue_due(case_id uuid, case_status text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN ({_QUEUE_DUE_QUERY});
END
$$
"""
QUEUE_DUE_BEFORE = f"""
CREATE OR REPLACE FUNCTION complaint_queue_due(case_id uuid, case_status text) RETURNS timestamptz
LANGUAGE sql STABLE AS $${_QUEUE_DUE_QUERY}
$$
"""
_CORRECT_QUEUE_DUE = """
    UPDATE complaint SET queue_due_at = complaint_queue_due(id, status)
    WHERE id = case_id AND queue_due_at IS DISTINCT FROM complaint_queue_due(id, status);"""
ON_DEADLINE_AFTER = f"""
CREATE OR REPLACE FUNCTION complaint_queue_on_deadline() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    case_id uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.complaint_id ELSE NEW.complaint_id END;
BEGIN
    IF EXISTS (SELECT FROM complaint
               WHERE id = case_id AND queue_due_at IS DISTINCT FROM complaint_queue_due(id, status)) THEN
        {_CORRECT_QUEUE_DUE.strip()}
    END IF;
    RETURN NULL;
END
$$
"""
ON_DEADLINE_BEFORE = f"""
CREATE OR REPLACE FUNCTION complaint_queue_on_deadline() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    case_id uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.complaint_id ELSE NEW.complaint_id END;
BEGIN{_CORRECT_QUEUE_DUE}
    RETURN NULL;
END
$$
"""

# The contribution view as 0011 made it, each part its own view.
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
       c.issue_type,
       0 AS consultations, 0 AS consultations_answered, 0 AS consultations_answered_on_time
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
CONSULTATION_CONTRIBUTION = """
SELECT q.id AS complaint_id,
       (q.filed_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
       q.region_code, 'consultation'::varchar AS kind, q.sector, q.channel, NULL::uuid AS merchant_id,
       0 AS received, 0 AS complaints, 0 AS reports, 0 AS accepted, 0 AS refused, 0 AS initial_reviews_due,
       0 AS initial_reviews_on_time, 0 AS closed, 0 AS closed_on_time, 0 AS settled, 0 AS terminated,
       0::bigint AS recovered_fen, 0 AS report_verifications_due, 0 AS report_verifications_on_time,
       'other'::varchar AS issue_type,
       1 AS consultations,
       (q.answered_at IS NOT NULL)::int AS consultations_answered,
       (q.answered_at IS NOT NULL AND q.clock_state = 'met')::int AS consultations_answered_on_time
FROM consultation q
"""
VIEW_AFTER = ("CREATE OR REPLACE VIEW stats_case_contribution AS SELECT * FROM stats_complaint_contribution "
              "UNION ALL SELECT * FROM stats_consultation_contribution")
VIEW_BEFORE = ("CREATE OR REPLACE VIEW stats_case_contribution AS " + COMPLAINT_CONTRIBUTION + "UNION ALL"
               + CONSULTATION_CONTRIBUTION)

_KEYS = ("day", "region_code", "kind", "sector", "channel", "merchant_id", "issue_type")
COUNTS = ("received", "complaints", "reports", "accepted", "refused", "initial_reviews_due", "initial_reviews_on_time",
          "closed", "closed_on_time", "settled", "terminated", "recovered_fen", "report_verifications_due",
          "report_verifications_on_time", "consultations", "consultations_answered", "consultations_answered_on_time")
READ_CONTRIBUTION_BEFORE = "SELECT * INTO current FROM stats_case_contribution WHERE complaint_id = case_id;"
READ_CONTRIBUTION_AFTER = """SELECT * INTO current FROM stats_complaint_contribution WHERE complaint_id = case_id;
    IF NOT FOUND THEN
        SELECT * INTO current FROM stats_consultation_contribution WHERE complaint_id = case_id;
    END IF;"""


def _refresh_function(read_contribution: str) -> str:
    """stats_refresh_case as 0011 made it, reading the case's contribution with `read_contribution`."""
    delta_columns = ", ".join((*_KEYS, *COUNTS))
    old_values = ", ".join((*(f"previous.{key}" for key in _KEYS), *(f"-previous.{name}" for name in COUNTS)))
    new_values = ", ".join((*(f"current.{key}" for key in _KEYS), *(f"current.{name}" for name in COUNTS)))
    difference = ", ".join((*(f"current.{key}" for key in _KEYS),
                            *(f"current.{name} - previous.{name}" for name in COUNTS)))
    same_keys = " AND ".join(f"current.{key} IS NOT DISTINCT FROM previous.{key}" for key in _KEYS)
    case_update = ", ".join(f"{column} = excluded.{column}" for column in (*_KEYS, *COUNTS))
    return f"""
CREATE OR REPLACE FUNCTION stats_refresh_case(case_id uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    previous stats_case%ROWTYPE;
    current stats_case%ROWTYPE;
BEGIN
    -- The lock serialises every refresh of one case; the reads below take a snapshot after it, so a refresh never
    -- works from a state older than the one the previous refresh wrote.
    SELECT * INTO previous FROM stats_case WHERE complaint_id = case_id FOR UPDATE;
    {read_contribution}
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


# Index -> its column.
PARTIAL_INDEXES = {"ix_complaint_station_id": "station_id", "ix_complaint_merchant_id": "merchant_id"}


def upgrade() -> None:
    op.execute(QUEUE_DUE_AFTER)
    op.execute(ON_DEADLINE_AFTER)
    op.execute("CREATE VIEW stats_complaint_contribution AS " + COMPLAINT_CONTRIBUTION)
    op.execute("CREATE VIEW stats_consultation_contribution AS " + CONSULTATION_CONTRIBUTION)
    op.execute(VIEW_AFTER)
    op.execute(_refresh_function(READ_CONTRIBUTION_AFTER))
    for index, column in PARTIAL_INDEXES.items():
        op.execute(f"DROP INDEX {index}")
        op.execute(f"CREATE INDEX {index} ON complaint ({column}) WHERE {column} IS NOT NULL")


def downgrade() -> None:
    for index, column in PARTIAL_INDEXES.items():
        op.execute(f"DROP INDEX {index}")
        op.execute(f"CREATE INDEX {index} ON complaint ({column})")
    op.execute(_refresh_function(READ_CONTRIBUTION_BEFORE))
    op.execute(VIEW_BEFORE)
    op.execute("DROP VIEW stats_consultation_contribution")
    op.execute("DROP VIEW stats_complaint_contribution")
    op.execute(ON_DEADLINE_BEFORE)
    op.execute(QUEUE_DUE_BEFORE)
