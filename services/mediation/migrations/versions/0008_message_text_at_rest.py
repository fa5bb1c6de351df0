"""A case message's text kept encrypted: `case_message.body` becomes `body_enc` (AES-GCM with the service's PII key,
bound to the message, `messages.models.body_context`); rows already there are encrypted here with ODR_PII_KEY.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mediation.settings import MediationSettings
from servicekit.pii import PiiCipher

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cipher() -> PiiCipher:
    return PiiCipher(MediationSettings().pii_key.get_secret_value())


def upgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    op.add_column("case_message", sa.Column("body_enc", sa.LargeBinary(), nullable=True))
    for message_id, body in bind.execute(sa.text("SELECT id, body FROM case_message")).all():
        sealed = cipher.encrypt(body, context=f"case_message:{message_id}:body")
        bind.execute(sa.text("UPDATE case_message SET body_enc = :sealed WHERE id = :id"),
                     {"sealed": sealed, "id": message_id})
    op.alter_column("case_message", "body_enc", nullable=False)
    op.drop_column("case_message", "body")


def downgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    op.add_column("case_message", sa.Column("body", sa.Text(), nullable=True))
    for message_id, sealed in bind.execute(sa.text("SELECT id, body_enc FROM case_message")).all():
        body = cipher.decrypt(sealed, context=f"case_message:{message_id}:body")
        bind.execute(sa.text("UPDATE case_message SET body = :body WHERE id = :id"), {"body": body, "id": message_id})
    op.alter_column("case_message", "body", nullable=False)
    op.drop_column("case_message", "body_enc")
