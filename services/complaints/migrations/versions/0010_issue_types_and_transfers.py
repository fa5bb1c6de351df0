"""Issue types on cases and in the statistics, transfers between bureaus, and the regulator's work queue.

- `complaint.issue_type` (one of a fixed list, `other` for every case filed before) and the issue type as a fifth
  dimension of `stats_case`, `stats_delta` and the four cubes: every existing cube row is `other`, so the sums stay
  exact without a rebuild. The contribution view, the refresh function and the complaint trigger learn the column.
- `complaint.queue_due_at`: the due instant of the clock of the case's current stage (negotiation, initial review,
  report verification) while it is not met or ended (a breached clock stays: an overdue case tops the queue), kept
  by triggers on `complaint` and `deadline`; two partial indexes serve the queue sorted by it.
- `hotline` as a timeline actor (an operator files for a caller).
- `complaint.transferred_from`: the region a transferred case came from (the last transfer), for the queue and audit.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ISSUE_TYPES = ("quality", "safety", "price", "metrology", "counterfeit", "contract", "false_advertising",
               "after_sales", "personal_information", "personal_rights", "other")
COUNTS = ("received", "complaints", "reports", "accepted", "refused", "initial_reviews_due", "initial_reviews_on_time",
          "closed", "closed_on_time", "settled", "terminated", "recovered_fen", "report_verifications_due",
          "report_verifications_on_time")
CUBES = ("stats_day", "stats_month", "stats_merchant_day", "stats_merchant_month")
KEYS_BEFORE = "bucket, region_code, kind, sector, channel"

CONTRIBUTION_VIEW = """
CREATE OR REPLACE VIEW stats_case_contribution AS
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
       coalesce(clocks.rv_on_time, 0)::int AS report_verifications_on_time{extra}
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


def _refresh_function(keys: Sequence[str]) -> str:
    """stats_refresh_case as 0007 made it, over `keys` (the dimensions a delta row carries)."""
    delta_columns = ", ".join((*keys, *COUNTS))
    old_values = ", ".join((*(f"previous.{key}" for key in keys), *(f"-previous.{name}" for name in COUNTS)))
    new_values = ", ".join((*(f"current.{key}" for key in keys), *(f"current.{name}" for name in COUNTS)))
    difference = ", ".join((*(f"current.{key}" for key in keys),
                            *(f"current.{name} - previous.{name}" for name in COUNTS)))
    same_keys = " AND ".join(f"current.{key} IS NOT DISTINCT FROM previous.{key}" for key in keys)
    case_update = ", ".join(f"{column} = excluded.{column}" for column in (*keys, *COUNTS))
    return f"""
CREATE OR REPLACE FUNCTION stats_refresh_case(case_id uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    previous stats_case%ROWTYPE;
    current stats_case%ROWTYPE;
BEGIN
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


KEYS_0007 = ("day", "region_code", "kind", "sector", "channel", "merchant_id")
KEYS_0008 = (*KEYS_0007, "issue_type")
COMPLAINT_COLUMNS_0007 = ("filed_at", "region_code", "kind", "sector", "channel", "merchant_id", "accepted_at",
                          "refusal_ground", "closed_at", "status", "recovered_fen")


def _complaint_trigger(columns: Sequence[str]) -> str:
    changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in columns)
    return ("CREATE CONSTRAINT TRIGGER stats_complaint_update AFTER UPDATE ON complaint DEFERRABLE INITIALLY DEFERRED "
            f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION stats_on_complaint_change()")


# The clock of a case's current stage: the latest clock of the kind its status runs, unless met or ended.
QUEUE_DUE_FUNCTION = """
CREATE FUNCTION complaint_queue_due(case_id uuid, case_status text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN d.state IN ('running', 'extended', 'paused', 'breached') THEN d.due_at END
    FROM deadline d
    WHERE d.complaint_id = case_id
      AND d.kind = CASE case_status WHEN 'with_merchant' THEN 'merchant_negotiation'
                                    WHEN 'pending_acceptance' THEN 'initial_review'
                                    WHEN 'received' THEN 'report_verification'
                                    WHEN 'verifying' THEN 'report_verification' END
    ORDER BY d.started_at DESC, d.id DESC
    LIMIT 1
$$
"""
QUEUE_TRIGGER_FUNCTIONS = ("""
CREATE FUNCTION complaint_queue_on_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.queue_due_at := complaint_queue_due(NEW.id, NEW.status);
    RETURN NEW;
END
$$
""", """
CREATE FUNCTION complaint_queue_on_deadline() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    case_id uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.complaint_id ELSE NEW.complaint_id END;
BEGIN
    UPDATE complaint SET queue_due_at = complaint_queue_due(id, status)
    WHERE id = case_id AND queue_due_at IS DISTINCT FROM complaint_queue_due(id, status);
    RETURN NULL;
END
$$
""")
QUEUE_TRIGGERS = {
    "complaint_queue_status": ("complaint", "BEFORE INSERT OR UPDATE OF status ON complaint FOR EACH ROW "
                                            "EXECUTE FUNCTION complaint_queue_on_status()"),
    "complaint_queue_deadline": ("deadline", "AFTER INSERT OR UPDATE OR DELETE ON deadline FOR EACH ROW "
                                             "EXECUTE FUNCTION complaint_queue_on_deadline()"),
}
ACTOR_ROLES_BEFORE = "actor_role IN ('consumer', 'merchant', 'regulator', 'mediator', 'station_staff', 'system')"
ACTOR_ROLES_AFTER = ("actor_role IN ('consumer', 'merchant', 'regulator', 'mediator', 'station_staff', 'hotline', "
                     "'system')")
ISSUE_CHECK = "issue_type IN (" + ", ".join(f"'{value}'" for value in ISSUE_TYPES) + ")"


def upgrade() -> None:
    op.add_column('complaint', sa.Column('issue_type', sa.String(32), server_default='other', nullable=False))
    op.create_check_constraint(op.f('ck_complaint_issue_type'), 'complaint', ISSUE_CHECK)
    op.add_column('complaint', sa.Column('transferred_from', sa.String(6), nullable=True))
    op.add_column('complaint', sa.Column('queue_due_at', sa.DateTime(timezone=True), nullable=True))
    # A hotline operator files for a caller and is named on the timeline.
    op.drop_constraint(op.f('ck_complaint_event_actor_role'), 'complaint_event', type_='check')
    op.create_check_constraint(op.f('ck_complaint_event_actor_role'), 'complaint_event', ACTOR_ROLES_AFTER)

    # Statistics: the fifth dimension, appended last so the view, stats_case and %ROWTYPE keep one column order.
    for table in ("stats_case", "stats_delta", *CUBES):
        op.execute(f"ALTER TABLE {table} ADD COLUMN issue_type varchar(32) NOT NULL DEFAULT 'other'")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN issue_type DROP DEFAULT")
    for table in CUBES:
        merchant = "merchant_id, " if "merchant" in table else ""
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY "
                   f"({merchant}{KEYS_BEFORE}, issue_type)")
    op.execute(CONTRIBUTION_VIEW.format(extra=",\n       c.issue_type"))
    op.execute(_refresh_function(KEYS_0008))
    op.execute("DROP TRIGGER stats_complaint_update ON complaint")
    op.execute(_complaint_trigger((*COMPLAINT_COLUMNS_0007, "issue_type")))

    # The queue.
    op.execute(QUEUE_DUE_FUNCTION)
    for function in QUEUE_TRIGGER_FUNCTIONS:
        op.execute(function)
    for name, (_, definition) in QUEUE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")
    op.execute("UPDATE complaint SET queue_due_at = complaint_queue_due(id, status) "
               "WHERE status IN ('with_merchant', 'pending_acceptance', 'received', 'verifying')")
    # A bureau's queue: its open cases by due date (a county's few, or a province's many read in order).
    op.execute("CREATE INDEX ix_complaint_queue_region ON complaint "
               "(region_code varchar_pattern_ops, queue_due_at, id) WHERE queue_due_at IS NOT NULL")
    op.execute("CREATE INDEX ix_complaint_queue_due ON complaint (queue_due_at, id) WHERE queue_due_at IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX ix_complaint_queue_due")
    op.execute("DROP INDEX ix_complaint_queue_region")
    for name, (table, _) in QUEUE_TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION complaint_queue_on_deadline()")
    op.execute("DROP FUNCTION complaint_queue_on_status()")
    op.execute("DROP FUNCTION complaint_queue_due(uuid, text)")

    op.execute("DROP TRIGGER stats_complaint_update ON complaint")
    op.execute(_complaint_trigger(COMPLAINT_COLUMNS_0007))
    # The view loses its last column: it must be dropped (with the function reading it) and made again.
    op.execute("DROP FUNCTION stats_refresh_case(uuid) CASCADE")
    op.execute("DROP VIEW stats_case_contribution")
    op.execute(CONTRIBUTION_VIEW.format(extra="").replace("CREATE OR REPLACE VIEW", "CREATE VIEW"))
    for table in CUBES:
        merchant = "merchant_id, " if "merchant" in table else ""
        # Rows differing only by issue type fold into one.
        keys = f"{merchant}{KEYS_BEFORE}"
        sums = ", ".join(f"sum({name}) AS {name}" for name in COUNTS)
        op.execute(f"CREATE TEMPORARY TABLE folded AS SELECT {keys}, {sums} FROM {table} GROUP BY {keys}")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table} DROP COLUMN issue_type")
        op.execute(f"TRUNCATE {table}")
        op.execute(f"INSERT INTO {table} SELECT * FROM folded")
        op.execute("DROP TABLE folded")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({keys})")
    for table in ("stats_case", "stats_delta"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN issue_type")
    op.execute(_refresh_function(KEYS_0007).replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION"))

    op.drop_constraint(op.f('ck_complaint_event_actor_role'), 'complaint_event', type_='check')
    op.create_check_constraint(op.f('ck_complaint_event_actor_role'), 'complaint_event', ACTOR_ROLES_BEFORE)
    op.drop_column('complaint', 'queue_due_at')
    op.drop_column('complaint', 'transferred_from')
    op.drop_constraint(op.f('ck_complaint_issue_type'), 'complaint', type_='check')
    op.drop_column('complaint', 'issue_type')
