"""Online stores in the registry, ODR applications with their dossier, expiry of rotated API clients.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:17:37.224751
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchant_store",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], name=op.f("fk_merchant_store_merchant_id_merchant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_store")),
        sa.UniqueConstraint("platform", "store_id", name=op.f("uq_merchant_store_platform")),
    )
    op.create_index(op.f("ix_merchant_store_merchant_id"), "merchant_store", ["merchant_id"], unique=False)
    op.create_table(
        "odr_application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("enrollment_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("submitted_from", sa.String(length=64), nullable=False),
        sa.Column("contact_name", sa.String(length=100), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("undertaking_accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handling_place", sa.Text(), nullable=False),
        sa.Column("complaint_staff_count", sa.Integer(), nullable=False),
        sa.Column("complaint_phone", sa.String(length=32), nullable=False),
        sa.Column("networked_computer", sa.Boolean(), nullable=False),
        sa.Column("handling_procedures", sa.Text(), nullable=False),
        sa.Column("cooperates_with_regulators", sa.Boolean(), nullable=False),
        sa.Column("licence_path", sa.Text(), nullable=False),
        sa.Column("licence_filename", sa.String(length=255), nullable=False),
        sa.Column("licence_media_type", sa.String(length=64), nullable=False),
        sa.Column("licence_size", sa.BigInteger(), nullable=False),
        sa.Column("licence_sha256", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f("ck_odr_application_status")),
        sa.CheckConstraint("complaint_staff_count >= 1", name=op.f("ck_odr_application_staff_count")),
        sa.ForeignKeyConstraint(
            ["enrollment_id"], ["enrollment.id"], name=op.f("fk_odr_application_enrollment_id_enrollment")
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], name=op.f("fk_odr_application_merchant_id_merchant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_odr_application")),
    )
    op.create_index(op.f("ix_odr_application_enrollment_id"), "odr_application", ["enrollment_id"], unique=False)
    op.create_index(op.f("ix_odr_application_merchant_id"), "odr_application", ["merchant_id"], unique=False)
    op.create_index(op.f("ix_odr_application_status"), "odr_application", ["status"], unique=False)
    op.create_index(
        "uq_odr_application_pending_merchant",
        "odr_application",
        ["merchant_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.add_column("api_client", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("merchant", sa.Column("operating_address", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("merchant", "operating_address")
    op.drop_column("api_client", "expires_at")
    op.drop_index(
        "uq_odr_application_pending_merchant",
        table_name="odr_application",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(op.f("ix_odr_application_status"), table_name="odr_application")
    op.drop_index(op.f("ix_odr_application_merchant_id"), table_name="odr_application")
    op.drop_index(op.f("ix_odr_application_enrollment_id"), table_name="odr_application")
    op.drop_table("odr_application")
    op.drop_index(op.f("ix_merchant_store_merchant_id"), table_name="merchant_store")
    op.drop_table("merchant_store")
