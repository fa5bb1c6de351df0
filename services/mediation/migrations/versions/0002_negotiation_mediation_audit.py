"""Offers, agreements, fulfilment, messages, regulator mediation fields, the audit chain and review samples.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:15:45.704162
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entry", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("appended_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mediation_case.id"], name=op.f("fk_audit_entry_case_id_mediation_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
        sa.UniqueConstraint("region_code", "seq", name="uq_audit_entry_region_code_seq"),
    )
    op.create_index(op.f("ix_audit_entry_case_id"), "audit_entry", ["case_id"], unique=False)
    op.create_table(
        "case_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["mediation_case.id"], name=op.f("fk_case_message_case_id_mediation_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_message")),
    )
    op.create_index(op.f("ix_case_message_case_id"), "case_message", ["case_id"], unique=False)
    op.create_table(
        "case_review",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("sampled_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sampled_by", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["mediation_case.id"], name=op.f("fk_case_review_case_id_mediation_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_review")),
        sa.UniqueConstraint("case_id", name="uq_case_review_case_id"),
    )
    op.create_index(op.f("ix_case_review_region_code"), "case_review", ["region_code"], unique=False)
    op.create_table(
        "offer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("made_by", sa.String(length=16), nullable=False),
        sa.Column("made_by_id", sa.String(length=200), nullable=False),
        sa.Column("offer_type", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("fulfil_by", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counter_to", sa.Uuid(), nullable=True),
        sa.Column("made_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by_id", sa.String(length=200), nullable=True),
        sa.CheckConstraint("made_by IN ('consumer', 'enterprise', 'mediator')", name=op.f("ck_offer_made_by")),
        sa.CheckConstraint(
            "offer_type IN ('refund', 'replacement', 'repair', 'compensation', 'apology', 'other')",
            name=op.f("ck_offer_offer_type"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'rejected', 'withdrawn', 'superseded', 'lapsed')",
            name=op.f("ck_offer_status"),
        ),
        sa.CheckConstraint(
            "amount_fen IS NULL OR amount_fen BETWEEN 0 AND 10000000000", name=op.f("ck_offer_amount_fen")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["mediation_case.id"], name=op.f("fk_offer_case_id_mediation_case")),
        sa.ForeignKeyConstraint(["counter_to"], ["offer.id"], name=op.f("fk_offer_counter_to_offer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer")),
    )
    op.create_index(op.f("ix_offer_case_id"), "offer", ["case_id"], unique=False)
    op.create_index(
        "uq_offer_one_open_per_case", "offer", ["case_id"], unique=True, postgresql_where=sa.text("status = 'open'")
    )
    op.create_table(
        "party_notification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["mediation_case.id"], name=op.f("fk_party_notification_case_id_mediation_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_notification")),
    )
    op.create_index(op.f("ix_party_notification_case_id"), "party_notification", ["case_id"], unique=False)
    op.create_table(
        "read_marker",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("reader_role", sa.String(length=16), nullable=False),
        sa.Column("reader_id", sa.String(length=200), nullable=False),
        sa.Column("last_read_message_id", sa.Uuid(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mediation_case.id"], name=op.f("fk_read_marker_case_id_mediation_case")),
        sa.ForeignKeyConstraint(
            ["last_read_message_id"], ["case_message.id"], name=op.f("fk_read_marker_last_read_message_id_case_message")
        ),
        sa.PrimaryKeyConstraint("case_id", "reader_role", "reader_id", name=op.f("pk_read_marker")),
    )
    op.create_table(
        "settlement_agreement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("terms", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("fulfil_by", sa.Date(), nullable=True),
        sa.Column("consumer_consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumer_consent_by", sa.String(length=200), nullable=False),
        sa.Column("enterprise_consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enterprise_consent_by", sa.String(length=200), nullable=False),
        sa.Column("document_no", sa.String(length=64), nullable=True),
        sa.Column("mediator_id", sa.String(length=200), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("fulfilment_status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("reminder_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("regulator_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "fulfilment_status IN ('pending', 'recorded', 'confirmed', 'disputed')",
            name=op.f("ck_settlement_agreement_fulfilment_status"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["mediation_case.id"], name=op.f("fk_settlement_agreement_case_id_mediation_case")
        ),
        sa.ForeignKeyConstraint(["offer_id"], ["offer.id"], name=op.f("fk_settlement_agreement_offer_id_offer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_agreement")),
        sa.UniqueConstraint("case_id", name=op.f("uq_settlement_agreement_case_id")),
        sa.UniqueConstraint("offer_id", name=op.f("uq_settlement_agreement_offer_id")),
    )
    op.create_table(
        "fulfilment_proof",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "answer IS NULL OR answer IN ('confirmed', 'disputed')", name=op.f("ck_fulfilment_proof_answer")
        ),
        sa.CheckConstraint(
            "kind IN ('refund_txn', 'shipment', 'repair_order', 'other')", name=op.f("ck_fulfilment_proof_kind")
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["settlement_agreement.id"],
            name=op.f("fk_fulfilment_proof_agreement_id_settlement_agreement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfilment_proof")),
    )
    op.create_index(op.f("ix_fulfilment_proof_agreement_id"), "fulfilment_proof", ["agreement_id"], unique=False)
    op.add_column(
        "mediation_case", sa.Column("stage", sa.String(length=16), server_default="negotiation", nullable=False)
    )
    op.add_column("mediation_case", sa.Column("failure_reason", sa.String(length=32), nullable=True))
    op.add_column("mediation_case", sa.Column("termination_ground", sa.SmallInteger(), nullable=True))
    op.add_column("mediation_case", sa.Column("termination_note", sa.Text(), nullable=True))
    op.add_column("mediation_case", sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("mediation_case", sa.Column("mediation_due_date", sa.Date(), nullable=True))
    op.add_column("mediation_case", sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("mediation_case", sa.Column("paused_days", sa.Integer(), server_default="0", nullable=False))
    op.add_column("mediation_case", sa.Column("mediator_kind", sa.String(length=32), nullable=True))
    op.add_column("mediation_case", sa.Column("mediator_id", sa.String(length=200), nullable=True))
    op.add_column("mediation_case", sa.Column("mediator_region", sa.String(length=6), nullable=True))
    op.add_column("mediation_case", sa.Column("delegated", sa.Boolean(), server_default="false", nullable=False))
    op.create_check_constraint(
        op.f("ck_mediation_case_stage"), "mediation_case", "stage IN ('negotiation', 'mediation')"
    )
    op.create_check_constraint(
        op.f("ck_mediation_case_termination_ground"),
        "mediation_case",
        "termination_ground IS NULL OR termination_ground BETWEEN 1 AND 8",
    )
    op.create_check_constraint(op.f("ck_mediation_case_paused_days"), "mediation_case", "paused_days >= 0")
    op.create_index("ix_mediation_case_negotiation_due", "mediation_case", ["due_date"],
                    postgresql_where=sa.text("status = 'negotiating'"))
    op.create_index("ix_mediation_case_mediation_due", "mediation_case", ["mediation_due_date"],
                    postgresql_where=sa.text("status = 'mediating' AND paused_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_mediation_case_mediation_due", table_name="mediation_case")
    op.drop_index("ix_mediation_case_negotiation_due", table_name="mediation_case")
    for name in ("ck_mediation_case_paused_days", "ck_mediation_case_termination_ground", "ck_mediation_case_stage"):
        op.drop_constraint(op.f(name), "mediation_case", type_="check")
    op.drop_column("mediation_case", "delegated")
    op.drop_column("mediation_case", "mediator_region")
    op.drop_column("mediation_case", "mediator_id")
    op.drop_column("mediation_case", "mediator_kind")
    op.drop_column("mediation_case", "paused_days")
    op.drop_column("mediation_case", "paused_at")
    op.drop_column("mediation_case", "mediation_due_date")
    op.drop_column("mediation_case", "accepted_at")
    op.drop_column("mediation_case", "termination_note")
    op.drop_column("mediation_case", "termination_ground")
    op.drop_column("mediation_case", "failure_reason")
    op.drop_column("mediation_case", "stage")
    op.drop_index(op.f("ix_fulfilment_proof_agreement_id"), table_name="fulfilment_proof")
    op.drop_table("fulfilment_proof")
    op.drop_table("settlement_agreement")
    op.drop_table("read_marker")
    op.drop_index(op.f("ix_party_notification_case_id"), table_name="party_notification")
    op.drop_table("party_notification")
    op.drop_index("uq_offer_one_open_per_case", table_name="offer", postgresql_where=sa.text("status = 'open'"))
    op.drop_index(op.f("ix_offer_case_id"), table_name="offer")
    op.drop_table("offer")
    op.drop_index(op.f("ix_case_review_region_code"), table_name="case_review")
    op.drop_table("case_review")
    op.drop_index(op.f("ix_case_message_case_id"), table_name="case_message")
    op.drop_table("case_message")
    op.drop_index(op.f("ix_audit_entry_case_id"), table_name="audit_entry")
    op.drop_table("audit_entry")
    op.drop_table("audit_chain_head")
