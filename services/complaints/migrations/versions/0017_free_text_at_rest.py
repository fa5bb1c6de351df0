"""Free text people type kept encrypted: a consultation's question and answer and a complaint's rating text become
`<field>_enc` (AES-GCM with the service's PII key, bound to the row and field: "consultation:<id>:question",
"consultation:<id>:answer", "complaint:<id>:rating_text"); rows already there are encrypted here with ODR_PII_KEY.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

from complaints.settings import ComplaintsSettings
from servicekit.migrations import open_columns, seal_columns
from servicekit.pii import PiiCipher

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its encrypted fields, each with whether it is required
FIELDS = {"consultation": (("question", True), ("answer", False)), "complaint": (("rating_text", False),)}


def _cipher() -> PiiCipher:
    return PiiCipher(ComplaintsSettings().pii_key.get_secret_value())


def upgrade() -> None:
    seal_columns(FIELDS, _cipher())


def downgrade() -> None:
    open_columns(FIELDS, _cipher())
