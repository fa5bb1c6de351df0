"""Reveals of a case's personal data and the log of them: each reveal writes its log row in the transaction that
answers it, so nothing is shown that is not logged."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.access.models import DETAIL_READ, PartyField, PiiAccess
from complaints.access.schemas import (
    AccessList,
    AccessRead,
    ConsumerAccessList,
    ConsumerAccessRead,
    ConsumerCaseAccessRead,
    RegionAccessList,
    RegionAccessRead,
    RevealIn,
    RevealRead,
)
from complaints.complaint import service as complaint_service
from complaints.complaint.schemas import ComplainantRead, PartiesRead
from servicekit import regions
from servicekit.auth import Principal, Role
from servicekit.db import new_id, utcnow
from servicekit.pagination import decode_cursor, page_of
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

pii_access_table: Table = PiiAccess.__table__  # type: ignore[assignment]

COMPLAINANT_FIELDS = (PartyField.NAME, PartyField.PHONE, PartyField.ADDRESS, PartyField.ID_NUMBER)


def _note_context(access_id: uuid.UUID) -> str:
    return f"pii_access:{access_id}:note"


def _role_of(principal: Principal) -> str:
    """The role the log names: regulator when the token has it, else the mediator role it was let in with."""
    return Role.REGULATOR.value if Role.REGULATOR in principal.roles else Role.MEDIATOR.value


def _shown(complainant: ComplainantRead | None, parties: PartiesRead | None,
           wanted: set[PartyField]) -> tuple[ComplainantRead | None, PartiesRead | None, list[PartyField]]:
    """The parties with the wanted fields in full and the rest masked, and which fields the answer shows in full."""
    shown: list[PartyField] = []
    masked = complaint_service.masked_complainant(complainant)
    if complainant is not None and masked is not None:
        values: dict[str, Any] = {}
        for field in COMPLAINANT_FIELDS:
            full = getattr(complainant, field.value)
            if field in wanted and full is not None:
                values[field.value] = full
                shown.append(field)
        masked = masked.model_copy(update=values)
    shown_parties = complaint_service.masked_parties(parties)
    if parties is not None and shown_parties is not None:
        if parties.agent is not None and PartyField.AGENT in wanted:
            shown_parties.agent = parties.agent
            shown.append(PartyField.AGENT)
        if parties.joint is not None and PartyField.JOINT in wanted:
            shown_parties.joint = parties.joint
            shown.append(PartyField.JOINT)
    return masked, shown_parties, shown


async def reveal(session: AsyncSession, *, complaint_id: uuid.UUID, principal: Principal, body: RevealIn,
                 cipher: PiiCipher) -> RevealRead:
    """The parties in full for a case the caller governs, logged with who, when, which fields and why; 404 outside
    the caller's regions, 409 when the case holds none of the fields asked for (an anonymous report)."""
    async with session.begin():
        row = await complaint_service.governed_row(session, complaint_id=complaint_id, principal=principal)
        complainant, parties = complaint_service.personal_data_of(row, cipher)
        shown_complainant, shown_parties, fields = _shown(complainant, parties, set(body.fields))
        if not fields:
            raise Problem("conflict", "The case holds none of the personal data asked for")
        access_id, at = new_id(), utcnow()
        await session.execute(pii_access_table.insert().values(
            id=access_id, complaint_id=row["id"], actor_sub=principal.sub, actor_role=_role_of(principal),
            actor_region=principal.region, at=at, fields=[field.value for field in fields], purpose=body.purpose.value,
            note_enc=cipher.encrypt(body.note, context=_note_context(access_id))))
    return RevealRead(complaint_id=row["id"], complainant=shown_complainant, parties=shown_parties, fields=fields,
                      access_id=access_id, at=at)


async def log_station_read(session: AsyncSession, *, row: RowMapping, principal: Principal, cipher: PiiCipher) -> None:
    """A station desk's read of a case its station filed, which shows the parties in full: logged like a reveal, as
    station staff reading the case's detail, in the caller's transaction."""
    complainant, parties = complaint_service.personal_data_of(row, cipher)
    _, _, fields = _shown(complainant, parties, set(PartyField))
    await session.execute(pii_access_table.insert().values(
        id=new_id(), complaint_id=row["id"], actor_sub=principal.sub, actor_role=Role.STATION_STAFF.value,
        actor_region=principal.region, at=utcnow(), fields=[field.value for field in fields], purpose=DETAIL_READ))


async def _page(session: AsyncSession, conditions: Sequence[ColumnElement[bool]], cursor: str | None,
                limit: int) -> tuple[Sequence[RowMapping], str | None]:
    """Oldest first (ids are UUIDv7, in time order); the cursor is the last id seen."""
    statement = select(pii_access_table).where(*conditions)
    if cursor is not None:
        statement = statement.where(pii_access_table.c.id > decode_cursor(cursor))
    rows = (await session.execute(statement.order_by(pii_access_table.c.id).limit(limit + 1))).mappings().all()
    return page_of(rows, limit, lambda row: row["id"])


async def log_for_supervisor(session: AsyncSession, *, complaint_id: uuid.UUID, principal: Principal,
                             cipher: PiiCipher, cursor: str | None, limit: int) -> AccessList:
    """Every reveal of a case the caller governs, with the staff member and the note."""
    row = await complaint_service.governed_row(session, complaint_id=complaint_id, principal=principal)
    page, next_cursor = await _page(session, [pii_access_table.c.complaint_id == row["id"]], cursor, limit)
    return AccessList(items=[AccessRead(
        id=entry["id"], at=entry["at"], actor_sub=entry["actor_sub"], actor_role=entry["actor_role"],
        actor_region=entry["actor_region"], fields=entry["fields"], purpose=entry["purpose"],
        note=(cipher.decrypt(entry["note_enc"], context=_note_context(entry["id"]))
              if entry["note_enc"] is not None else None),
    ) for entry in page], next_cursor=next_cursor)


async def log_for_consumer(session: AsyncSession, *, complaint_id: uuid.UUID, consumer_id: str, cursor: str | None,
                           limit: int) -> ConsumerAccessList:
    """Who read the consumer's personal data on their own case: role and bureau, never the person (PIPL Art. 45)."""
    if await complaint_service.version_of(session, complaint_id=complaint_id, consumer_id=consumer_id) is None:
        raise Problem("not-found", "No such complaint")
    page, next_cursor = await _page(session, [pii_access_table.c.complaint_id == complaint_id], cursor, limit)
    return ConsumerAccessList(items=[ConsumerAccessRead(
        at=entry["at"], role=entry["actor_role"], region_code=entry["actor_region"],
        region_name=_region_name(entry["actor_region"]), fields=entry["fields"], purpose=entry["purpose"],
    ) for entry in page], next_cursor=next_cursor)


async def log_of_cases(session: AsyncSession, *, complaint_ids: Sequence[uuid.UUID]) -> list[ConsumerCaseAccessRead]:
    """Every read of these cases' personal data as their consumer sees it, oldest first (their data export)."""
    rows = (await session.execute(select(pii_access_table).where(pii_access_table.c.complaint_id.in_(complaint_ids))
                                  .order_by(pii_access_table.c.id))).mappings().all()
    return [ConsumerCaseAccessRead(
        complaint_id=entry["complaint_id"], at=entry["at"], role=entry["actor_role"],
        region_code=entry["actor_region"], region_name=_region_name(entry["actor_region"]), fields=entry["fields"],
        purpose=entry["purpose"]) for entry in rows]


async def log_of_region(session: AsyncSession, *, region: str, principal: Principal, cipher: PiiCipher,
                        cursor: str | None, limit: int) -> RegionAccessList:
    """Every staff read of personal data on the cases of a region the supervisor governs, oldest first: who, when,
    which case, which fields and why; 404 for a region the caller does not govern."""
    if not principal.governs(region):
        raise Problem("not-found", "No such region among those you govern")
    cases = complaint_service.complaint_table
    statement = (select(pii_access_table, cases.c.case_no)
                 .join(cases, cases.c.id == pii_access_table.c.complaint_id)
                 .where(cases.c.region_code.startswith(regions.prefix(region), autoescape=True)))
    if cursor is not None:
        statement = statement.where(pii_access_table.c.id > decode_cursor(cursor))
    rows = (await session.execute(statement.order_by(pii_access_table.c.id).limit(limit + 1))).mappings().all()
    page, next_cursor = page_of(rows, limit, lambda row: row["id"])
    return RegionAccessList(items=[RegionAccessRead(
        id=entry["id"], complaint_id=entry["complaint_id"], case_no=entry["case_no"], at=entry["at"],
        actor_sub=entry["actor_sub"], actor_role=entry["actor_role"], actor_region=entry["actor_region"],
        fields=entry["fields"], purpose=entry["purpose"],
        note=(cipher.decrypt(entry["note_enc"], context=_note_context(entry["id"]))
              if entry["note_enc"] is not None else None),
    ) for entry in page], next_cursor=next_cursor)


def _region_name(code: str | None) -> str | None:
    region = regions.get(code) if code is not None else None
    return region.name if region is not None else None
