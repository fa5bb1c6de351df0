"""What regulators write kept encrypted (AES-GCM with the service's PII key, bound to "<table>:<id>:<field>"): a
summons' findings and undertakings (`summons.findings_enc`, `summons.undertakings_enc`, the list as one JSON
document), a scorecard flag's resolution note (`scorecard_flag.resolution_note_enc`), the enrollment trail's reasons
(`enrollment_event.reason_enc`) and an application's decision reason (`odr_application.decision_reason_enc`). Rows
already there are encrypted here with ODR_PII_KEY, and the downgrade decrypts them back.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 03:40:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from merchants.settings import MerchantsSettings
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
JSON_FIELDS = {("summons", "undertakings")}


def _cipher() -> PiiCipher:
    return PiiCipher(MerchantsSettings().pii_key.get_secret_value())


def upgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    for table, fields in FIELDS.items():
        for field, required in fields:
            op.add_column(table, sa.Column(f"{field}_enc", sa.LargeBinary(), nullable=True))
            rows = bind.execute(sa.text(f"SELECT id, {field} FROM {table} WHERE {field} IS NOT NULL")).all()
            for row_id, value in rows:
                plain = json.dumps(value, ensure_ascii=False) if (table, field) in JSON_FIELDS else value
                sealed = cipher.encrypt(plain, context=f"{table}:{row_id}:{field}")
                bind.execute(sa.text(f"UPDATE {table} SET {field}_enc = :sealed WHERE id = :id"),
                             {"sealed": sealed, "id": row_id})
            if required:
                op.alter_column(table, f"{field}_enc", nullable=False)
            op.drop_column(table, field)


def downgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    for table, fields in FIELDS.items():
        for field, required in fields:
            is_json = (table, field) in JSON_FIELDS
            op.add_column(table, sa.Column(field, JSONB() if is_json else sa.Text(), nullable=True))
            rows = bind.execute(sa.text(f"SELECT id, {field}_enc FROM {table} WHERE {field}_enc IS NOT NULL")).all()
            target = "CAST(:value AS jsonb)" if is_json else ":value"
            for row_id, sealed in rows:
                value = cipher.decrypt(sealed, context=f"{table}:{row_id}:{field}")
                bind.execute(sa.text(f"UPDATE {table} SET {field} = {target} WHERE id = :id"),
                             {"value": value, "id": row_id})
            if required:
                op.alter_column(table, field, nullable=False)
            op.drop_column(table, f"{field}_enc")
