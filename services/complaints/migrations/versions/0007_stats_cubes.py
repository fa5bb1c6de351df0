"""Regulator statistics kept incrementally: per-case contributions, an append-only delta log and four cubes.

A case's contribution to the figures is a function of its complaint row and its deadline rows
(`stats_case_contribution`). Deferred constraint triggers on both tables recompute it at commit, keep it in
`stats_case` and append the difference to `stats_delta`; the service's compactor folds the deltas into the day and
month cubes, with and without the merchant dimension. See docs/design-notes.md (statistics at scale).

Revision ID: 7c5d2a9e41f8
Revises: 5a3e8c1f70b2
Create Date: 2026-11-28 06:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '7c5d2a9e41f8'
down_revision: str | None = '5a3e8c1f70b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = ("received", "complaints", "reports", "accepted", "refused", "initial_reviews_due", "initial_reviews_on_time",
          "closed", "closed_on_time", "settled", "terminated", "recovered_fen", "report_verifications_due",
          "report_verifications_on_time")
DIMENSIONS = "region_code varchar(6) COLLATE \"C\" NOT NULL, kind varchar(16) NOT NULL, sector varchar(64) NOT NULL, " \
             "channel varchar(32) NOT NULL"
CUBES = {
    # Bucket first: a period's edge days are a few key ranges whatever the region (a province holds every region).
    "stats_day": ("bucket date NOT NULL", "bucket, region_code, kind, sector, channel"),
    "stats_month": ("bucket date NOT NULL", "bucket, region_code, kind, sector, channel"),
    "stats_merchant_day": ("merchant_id uuid NOT NULL, bucket date NOT NULL",
                           "merchant_id, bucket, region_code, kind, sector, channel"),
    "stats_merchant_month": ("merchant_id uuid NOT NULL, bucket date NOT NULL",
                             "merchant_id, bucket, region_code, kind, sector, channel"),
}


def _counts(sql_type: str) -> str:
    return ", ".join(f"{name} {'bigint' if name == 'recovered_fen' else sql_type} NOT NULL" for name in COUNTS)


CONTRIBUTION_VIEW = """
CREATE VIEW stats_case_contribution AS
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
       coalesce(clocks.rv_on_time, 0)::int AS report_verifications_on_time
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

_KEYS = ("day", "region_code", "kind", "sector", "channel", "merchant_id")
_delta_columns = ", ".join((*_KEYS, *COUNTS))
_old_values = ", ".join((*(f"previous.{key}" for key in _KEYS), *(f"-previous.{name}" for name in COUNTS)))
_new_values = ", ".join((*(f"current.{key}" for key in _KEYS), *(f"current.{name}" for name in COUNTS)))
_difference = ", ".join((*(f"current.{key}" for key in _KEYS),
                         *(f"current.{name} - previous.{name}" for name in COUNTS)))
_same_keys = " AND ".join(f"current.{key} IS NOT DISTINCT FROM previous.{key}" for key in _KEYS)
_case_update = ", ".join(f"{column} = excluded.{column}" for column in (*_KEYS, *COUNTS))

REFRESH_FUNCTION = f"""
CREATE FUNCTION stats_refresh_case(case_id uuid) RETURNS void LANGUAGE plpgsql AS $$
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
    IF previous.complaint_id IS NOT NULL AND current.complaint_id IS NOT NULL AND {_same_keys} THEN
        INSERT INTO stats_delta ({_delta_columns}) VALUES ({_difference});
    ELSE
        IF previous.complaint_id IS NOT NULL THEN
            INSERT INTO stats_delta ({_delta_columns}) VALUES ({_old_values});
        END IF;
        IF current.complaint_id IS NOT NULL THEN
            INSERT INTO stats_delta ({_delta_columns}) VALUES ({_new_values});
        END IF;
    END IF;
    IF current.complaint_id IS NULL THEN
        DELETE FROM stats_case WHERE complaint_id = case_id;
    ELSE
        INSERT INTO stats_case SELECT current.* ON CONFLICT (complaint_id) DO UPDATE SET {_case_update};
    END IF;
END
$$
"""

TRIGGER_FUNCTIONS = ("""
CREATE FUNCTION stats_on_complaint_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_refresh_case(CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
    RETURN NULL;
END
$$
""", """
CREATE FUNCTION stats_on_deadline_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM stats_refresh_case(OLD.complaint_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.complaint_id IS DISTINCT FROM OLD.complaint_id) THEN
        PERFORM stats_refresh_case(NEW.complaint_id);
    END IF;
    RETURN NULL;
END
$$
""")

# Deferred to commit: the refresh then sees the use case's final state once, and takes the stats_case lock after
# every lock the use case took, so it adds no new lock-order conflict with the sweeper or other use cases.
_COMPLAINT_COLUMNS = ("filed_at", "region_code", "kind", "sector", "channel", "merchant_id", "accepted_at",
                      "refusal_ground", "closed_at", "status", "recovered_fen")
_DEADLINE_COLUMNS = ("complaint_id", "kind", "state", "met_at", "due_at")


def _changed(columns: Sequence[str]) -> str:
    return " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in columns)


TRIGGERS = {
    "stats_complaint_insert_delete": "AFTER INSERT OR DELETE ON complaint DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                                     "EXECUTE FUNCTION stats_on_complaint_change()",
    "stats_complaint_update": "AFTER UPDATE ON complaint DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                              f"WHEN ({_changed(_COMPLAINT_COLUMNS)}) EXECUTE FUNCTION stats_on_complaint_change()",
    # A clock that is running, extended or paused counts nowhere yet, so a new one changes no figure.
    "stats_deadline_insert": "AFTER INSERT ON deadline DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                             "WHEN (NEW.state IN ('met', 'breached')) EXECUTE FUNCTION stats_on_deadline_change()",
    "stats_deadline_update": "AFTER UPDATE ON deadline DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                             f"WHEN ({_changed(_DEADLINE_COLUMNS)}) EXECUTE FUNCTION stats_on_deadline_change()",
    "stats_deadline_delete": "AFTER DELETE ON deadline DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                             "EXECUTE FUNCTION stats_on_deadline_change()",
}


def upgrade() -> None:
    op.execute(f"CREATE TABLE stats_case (complaint_id uuid PRIMARY KEY, day date NOT NULL, {DIMENSIONS}, "
               f"merchant_id uuid, {_counts('integer')})")
    # No key and no index: rows are only appended by the triggers and taken whole by the compactor.
    op.execute(f"CREATE TABLE stats_delta (day date NOT NULL, {DIMENSIONS}, merchant_id uuid, {_counts('integer')})")
    for table, (leading, key) in CUBES.items():
        op.execute(f"CREATE TABLE {table} ({leading}, {DIMENSIONS}, {_counts('integer')}, "
                   f"CONSTRAINT pk_{table} PRIMARY KEY ({key}))")
    op.execute(CONTRIBUTION_VIEW)
    op.execute(REFRESH_FUNCTION)
    for function in TRIGGER_FUNCTIONS:
        op.execute(function)
    for name, definition in TRIGGERS.items():
        op.execute(f"CREATE CONSTRAINT TRIGGER {name} {definition}")
    # Cases filed before this revision: their contributions, and the cubes folded from them.
    op.execute("INSERT INTO stats_case SELECT * FROM stats_case_contribution")
    _fill_cubes()


def _fill_cubes() -> None:
    sums = ", ".join(f"sum({name})" for name in COUNTS)
    merchant = "coalesce(merchant_id, '00000000-0000-0000-0000-000000000000'::uuid)"
    op.execute(f"INSERT INTO stats_day SELECT day, region_code, kind, sector, channel, {sums} FROM stats_case "
               "GROUP BY 1, 2, 3, 4, 5")
    op.execute(f"INSERT INTO stats_month SELECT date_trunc('month', bucket)::date, region_code, kind, sector, channel, "
               f"{sums} FROM stats_day GROUP BY 1, 2, 3, 4, 5")
    op.execute(f"INSERT INTO stats_merchant_day SELECT {merchant}, day, region_code, kind, sector, channel, {sums} "
               "FROM stats_case GROUP BY 1, 2, 3, 4, 5, 6")
    op.execute(f"INSERT INTO stats_merchant_month SELECT merchant_id, date_trunc('month', bucket)::date, region_code, "
               f"kind, sector, channel, {sums} FROM stats_merchant_day GROUP BY 1, 2, 3, 4, 5, 6")


def downgrade() -> None:
    for name in TRIGGERS:
        table = "complaint" if "_complaint_" in name else "deadline"
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION stats_on_deadline_change()")
    op.execute("DROP FUNCTION stats_on_complaint_change()")
    op.execute("DROP FUNCTION stats_refresh_case(uuid)")
    op.execute("DROP VIEW stats_case_contribution")
    for table in (*CUBES, "stats_delta", "stats_case"):
        op.execute(f"DROP TABLE {table}")
