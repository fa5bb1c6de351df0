"""Personal data kept encrypted: an ODR application's client address, its contact person's name and phone and the
licence's original file name become `<field>_enc` (AES-GCM with the service's PII key, bound to the application and
field, `applications.models.sealed_context`), and a summons' attendee list (people's names) becomes `attendees_enc`
(its JSON, bound to the summons); rows already there are encrypted here with ODR_PII_KEY. The enrollment audit trail
named an applicant by its client address: it names the application instead.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from merchants.settings import MerchantsSettings
from servicekit.migrations import SealedColumns, open_columns, seal_columns
from servicekit.pii import PiiCipher

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIELDS = {"submitted_from": sa.String(64), "contact_name": sa.String(100), "contact_phone": sa.String(32),
          "licence_filename": sa.String(255)}
# The summons' attendee list, sealed as one JSON document
SUMMONS: SealedColumns = {"summons": (("attendees", True),)}
SUMMONS_JSON = frozenset({("summons", "attendees")})


def _cipher() -> PiiCipher:
    return PiiCipher(MerchantsSettings().pii_key.get_secret_value())


def _context(application_id: object, field: str) -> str:
    return f"odr_application:{application_id}:{field}"


def upgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    for field in FIELDS:
        op.add_column("odr_application", sa.Column(f"{field}_enc", sa.LargeBinary(), nullable=True))
    columns = ", ".join(FIELDS)
    for row in bind.execute(sa.text(f"SELECT id, {columns} FROM odr_application")).mappings().all():
        sealed = {f"{field}_enc": cipher.encrypt(row[field], context=_context(row["id"], field)) for field in FIELDS}
        assignments = ", ".join(f"{name} = :{name}" for name in sealed)
        bind.execute(sa.text(f"UPDATE odr_application SET {assignments} WHERE id = :id"), {**sealed, "id": row["id"]})
    for field in FIELDS:
        op.alter_column("odr_application", f"{field}_enc", nullable=False)
        op.drop_column("odr_application", field)
    # The latest application filed for the enrollment up to the moment of each applicant entry.
    op.execute("""
        UPDATE enrollment_event SET actor_id = coalesce((
            SELECT a.id::text FROM odr_application a
            WHERE a.enrollment_id = enrollment_event.enrollment_id AND a.submitted_at <= enrollment_event.at
            ORDER BY a.submitted_at DESC LIMIT 1), 'unknown')
        WHERE actor_role = 'applicant'
    """)
    seal_columns(SUMMONS, cipher, json_columns=SUMMONS_JSON)


def downgrade() -> None:
    bind = op.get_bind()
    cipher = _cipher()
    open_columns(SUMMONS, cipher, json_columns=SUMMONS_JSON)
    for field, kind in FIELDS.items():
        op.add_column("odr_application", sa.Column(field, kind, nullable=True))
    sealed_columns = ", ".join(f"{field}_enc" for field in FIELDS)
    for row in bind.execute(sa.text(f"SELECT id, {sealed_columns} FROM odr_application")).mappings().all():
        values = {field: cipher.decrypt(row[f"{field}_enc"], context=_context(row["id"], field)) for field in FIELDS}
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        bind.execute(sa.text(f"UPDATE odr_application SET {assignments} WHERE id = :id"), {**values, "id": row["id"]})
    for field in FIELDS:
        op.alter_column("odr_application", field, nullable=False)
        op.drop_column("odr_application", f"{field}_enc")
