"""What regulators write kept encrypted (AES-GCM with the service's PII key, bound to "<table>:<id>:<field>"): a
summons' findings and undertakings (`summons.findings_enc`, `summons.undertakings_enc`, the list as one JSON
document), a scorecard flag's resolution note (`scorecard_flag.resolution_note_enc`), the enrollment trail's reasons
(`enrollment_event.reason_enc`) and an application's decision reason (`odr_application.decision_reason_enc`). Rows
already there are encrypted here with ODR_PII_KEY, and the downgrade decrypts them back.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 03:40:00
"""

from collections.abc import Sequence

from merchants.settings import MerchantsSettings
from servicekit.migrations import open_columns, seal_columns
from servicekit.pii import PiiCipher

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its encrypted fields, each with whether it is required
FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "summons": (("findings", True), ("undertakings", True)),
    "scorecard_flag": (("resolution_note", False),),
    "enrollment_event": (("reason", False),),
    "odr_application": (("decision_reason", False),),
}
# Fields kept as JSON (a list), sealed as its JSON text
JSON_FIELDS = frozenset({("summons", "undertakings")})


def _cipher() -> PiiCipher:
    return PiiCipher(MerchantsSettings().pii_key.get_secret_value())


def upgrade() -> None:
    seal_columns(FIELDS, _cipher(), json_columns=JSON_FIELDS)


def downgrade() -> None:
    open_columns(FIELDS, _cipher(), json_columns=JSON_FIELDS)
