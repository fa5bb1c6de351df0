"""Attachments of case messages: files uploaded to a case, referenced by a message of their uploader.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 05:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_attachment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("uploader_role", sa.String(length=16), nullable=False),
        sa.Column("uploader_id", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["mediation_case.id"], name=op.f("fk_case_attachment_case_id_mediation_case")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["case_message.id"], name=op.f("fk_case_attachment_message_id_case_message")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachment")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_case_attachment_storage_key")),
    )
    op.create_index(op.f("ix_case_attachment_case_id"), "case_attachment", ["case_id"], unique=False)
    op.create_index(op.f("ix_case_attachment_message_id"), "case_attachment", ["message_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_attachment_message_id"), table_name="case_attachment")
    op.drop_index(op.f("ix_case_attachment_case_id"), table_name="case_attachment")
    op.drop_table("case_attachment")
