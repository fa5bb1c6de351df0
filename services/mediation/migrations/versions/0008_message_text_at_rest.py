"""A case message's text kept encrypted: `case_message.body` becomes `body_enc` (AES-GCM with the service's PII key,
bound to the message, `messages.models.body_context`); rows already there are encrypted here with ODR_PII_KEY.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 02:20:00
"""

from collections.abc import Sequence

from mediation.settings import MediationSettings
from servicekit.migrations import SealedColumns, open_columns, seal_columns
from servicekit.pii import PiiCipher

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cipher() -> PiiCipher:
    return PiiCipher(MediationSettings().pii_key.get_secret_value())


# table -> its encrypted fields, each with whether it is required
FIELDS: SealedColumns = {"case_message": (("body", True),)}


def upgrade() -> None:
    seal_columns(FIELDS, _cipher())


def downgrade() -> None:
    open_columns(FIELDS, _cipher())
