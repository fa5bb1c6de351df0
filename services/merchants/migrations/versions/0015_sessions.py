"""Session families and their rotating refresh tokens (kept only as SHA-256 digests).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'consumer', 'staff'"
REASONS = "'signed_out', 'reuse_detected', 'account_disabled'"


def upgrade() -> None:
    op.create_table(
        "session_family",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_session_family_kind")),
        sa.CheckConstraint(f"revoked_reason IS NULL OR revoked_reason IN ({REASONS})",
                           name=op.f("ck_session_family_revoked_reason")),
        sa.CheckConstraint("(revoked_at IS NULL) = (revoked_reason IS NULL)",
                           name=op.f("ck_session_family_revoked_with_reason")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_family")),
    )
    op.create_index("ix_session_family_expires_at", "session_family", ["expires_at"])
    op.create_index("ix_session_family_subject", "session_family", ["kind", "subject"])
    op.create_table(
        "refresh_token",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["family_id"], ["session_family.id"], ondelete="CASCADE",
                                name=op.f("fk_refresh_token_family_id_session_family")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_refresh_token")),
    )
    op.create_index(op.f("ix_refresh_token_family_id"), "refresh_token", ["family_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_token_family_id"), table_name="refresh_token")
    op.drop_table("refresh_token")
    op.drop_index("ix_session_family_subject", table_name="session_family")
    op.drop_index("ix_session_family_expires_at", table_name="session_family")
    op.drop_table("session_family")
