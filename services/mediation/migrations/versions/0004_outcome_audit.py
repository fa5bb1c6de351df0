"""Outcome auditing: signals raised on cases, the review queue, regions' thresholds and complaint facts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNALS = ("'low_settlement', 'fulfilment_overdue', 'fulfilment_disputed', 'refiled_after_close', "
           "'withdrawn_after_contact', 'enterprise_outlier', 'mediator_outlier'")
OUTCOMES = "'confirmed', 'consumer_called_back', 'referred_for_enforcement', 'agreement_reopened_with_consent'"


def upgrade() -> None:
    op.create_table(
        "audit_review",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sample_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("chain_seq", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(f"outcome IS NULL OR outcome IN ({OUTCOMES})", name=op.f("ck_audit_review_outcome")),
        sa.CheckConstraint("(outcome IS NULL) = (reviewed_at IS NULL)", name=op.f("ck_audit_review_reviewed")),
        sa.ForeignKeyConstraint(["case_id"], ["mediation_case.id"],
                                name=op.f("fk_audit_review_case_id_mediation_case")),
        sa.ForeignKeyConstraint(["sample_id"], ["case_review.id"],
                                name=op.f("fk_audit_review_sample_id_case_review")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_review")),
    )
    op.create_index(op.f("ix_audit_review_case_id"), "audit_review", ["case_id"], unique=False)
    op.create_index("ix_audit_review_region_code_id", "audit_review", ["region_code", "id"], unique=False)
    op.create_index("uq_audit_review_open_case", "audit_review", ["case_id"], unique=True,
                    postgresql_where=sa.text("reviewed_at IS NULL"))
    op.create_table(
        "outcome_signal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=True),
        sa.Column("subject_id", sa.String(length=200), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(f"kind IN ({SIGNALS})", name=op.f("ck_outcome_signal_kind")),
        sa.ForeignKeyConstraint(["case_id"], ["mediation_case.id"],
                                name=op.f("fk_outcome_signal_case_id_mediation_case")),
        sa.ForeignKeyConstraint(["review_id"], ["audit_review.id"],
                                name=op.f("fk_outcome_signal_review_id_audit_review")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_signal")),
        sa.UniqueConstraint("case_id", "kind", name="uq_outcome_signal_case_id_kind"),
    )
    op.create_index("ix_outcome_signal_region_code_id", "outcome_signal", ["region_code", "id"], unique=False)
    op.create_index(op.f("ix_outcome_signal_review_id"), "outcome_signal", ["review_id"], unique=False)
    op.create_index("uq_outcome_signal_subject_period", "outcome_signal",
                    ["kind", "region_code", "subject_id", "period"], unique=True,
                    postgresql_where=sa.text("period IS NOT NULL"))
    op.create_table(
        "audit_threshold",
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("low_settlement_bp", sa.Integer(), nullable=True),
        sa.Column("refile_days", sa.Integer(), nullable=True),
        sa.Column("withdrawal_days", sa.Integer(), nullable=True),
        sa.Column("fulfilment_overdue_days", sa.Integer(), nullable=True),
        sa.Column("outlier_min_cases", sa.Integer(), nullable=True),
        sa.Column("outlier_z", sa.Float(), nullable=True),
        sa.Column("outlier_window_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint("low_settlement_bp IS NULL OR low_settlement_bp BETWEEN 1 AND 10000",
                           name=op.f("ck_audit_threshold_low_settlement_bp")),
        sa.CheckConstraint("refile_days IS NULL OR refile_days BETWEEN 1 AND 3650",
                           name=op.f("ck_audit_threshold_refile_days")),
        sa.CheckConstraint("withdrawal_days IS NULL OR withdrawal_days BETWEEN 1 AND 3650",
                           name=op.f("ck_audit_threshold_withdrawal_days")),
        sa.CheckConstraint("fulfilment_overdue_days IS NULL OR fulfilment_overdue_days BETWEEN 1 AND 3650",
                           name=op.f("ck_audit_threshold_fulfilment_overdue_days")),
        sa.CheckConstraint("outlier_min_cases IS NULL OR outlier_min_cases >= 2",
                           name=op.f("ck_audit_threshold_outlier_min_cases")),
        sa.CheckConstraint("outlier_z IS NULL OR outlier_z > 0", name=op.f("ck_audit_threshold_outlier_z")),
        sa.CheckConstraint("outlier_window_days IS NULL OR outlier_window_days BETWEEN 1 AND 3650",
                           name=op.f("ck_audit_threshold_outlier_window_days")),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_audit_threshold")),
    )
    op.create_table(
        "complaint_profile",
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("sector", sa.String(length=64), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name=op.f("ck_complaint_profile_rating")),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaint_profile")),
    )


def downgrade() -> None:
    op.drop_table("complaint_profile")
    op.drop_table("audit_threshold")
    op.drop_index("uq_outcome_signal_subject_period", table_name="outcome_signal",
                  postgresql_where=sa.text("period IS NOT NULL"))
    op.drop_index(op.f("ix_outcome_signal_review_id"), table_name="outcome_signal")
    op.drop_index("ix_outcome_signal_region_code_id", table_name="outcome_signal")
    op.drop_table("outcome_signal")
    op.drop_index("uq_audit_review_open_case", table_name="audit_review",
                  postgresql_where=sa.text("reviewed_at IS NULL"))
    op.drop_index("ix_audit_review_region_code_id", table_name="audit_review")
    op.drop_index(op.f("ix_audit_review_case_id"), table_name="audit_review")
    op.drop_table("audit_review")
