"""Summons use cases: a regulator records one; regulators of the region and above list them; scorecards show them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.registry.models import Merchant
from merchants.summons.models import Summons, attendees_context, summons_context
from merchants.summons.schemas import Attendee, SummonsCreate, SummonsList, SummonsRead
from servicekit import regions
from servicekit.auth import Principal
from servicekit.db import new_id
from servicekit.pagination import decode_cursor, page_of
from servicekit.pii import PiiCipher
from servicekit.problems import Problem


def summons_read(summons: Summons, merchant_name: str, cipher: PiiCipher) -> SummonsRead:
    """The record as regulators and the enterprise see it."""
    return SummonsRead(
        id=summons.id, merchant_id=summons.merchant_id, merchant_name=merchant_name, region_code=summons.region_code,
        held_on=summons.held_on, attendees=TypeAdapter(list[Attendee]).validate_json(
            cipher.decrypt(summons.attendees_enc, context=attendees_context(summons.id))),
        findings=findings_of(summons, cipher), undertakings=undertakings_of(summons, cipher),
        case_nos=summons.case_nos, recorded_by=summons.recorded_by, recorded_at=summons.recorded_at)


def findings_of(summons: Summons, cipher: PiiCipher) -> str:
    return cipher.decrypt(summons.findings_enc, context=summons_context(summons.id, "findings"))


def undertakings_of(summons: Summons, cipher: PiiCipher) -> list[str]:
    return TypeAdapter(list[str]).validate_json(
        cipher.decrypt(summons.undertakings_enc, context=summons_context(summons.id, "undertakings")))


async def record(session: AsyncSession, *, merchant_id: uuid.UUID, body: SummonsCreate,
                 principal: Principal, cipher: PiiCipher) -> SummonsRead:
    """Use case: record a summons of an enterprise of a region the regulator governs (else 404), in one transaction
    (the row is its own audit record: who recorded it, from which region, when)."""
    async with session.begin():
        merchant = await session.get(Merchant, merchant_id)
        if merchant is None or not principal.governs(merchant.region_code):
            raise Problem("not-found", "No such enterprise in the regions you govern")
        summons_id = new_id()
        attendees = TypeAdapter(list[Attendee]).dump_json(body.attendees).decode()
        summons = Summons(
            id=summons_id, merchant_id=merchant.id, region_code=merchant.region_code, held_on=body.held_on,
            attendees_enc=cipher.encrypt(attendees, context=attendees_context(summons_id)),
            findings_enc=cipher.encrypt(body.findings, context=summons_context(summons_id, "findings")),
            undertakings_enc=cipher.encrypt(TypeAdapter(list[str]).dump_json(list(body.undertakings)).decode(),
                                            context=summons_context(summons_id, "undertakings")),
            case_nos=list(body.case_nos), recorded_by=principal.sub,
            recorded_region=principal.region or "")
        session.add(summons)
        await session.flush()
        await session.refresh(summons)
        return summons_read(summons, merchant.name, cipher)


async def get(session: AsyncSession, *, summons_id: uuid.UUID, principal: Principal,
              cipher: PiiCipher) -> SummonsRead:
    """One summons of the regions the regulator governs, or 404."""
    row = (await session.execute(select(Summons, Merchant.name).join(Merchant, Merchant.id == Summons.merchant_id)
                                 .where(Summons.id == summons_id))).one_or_none()
    if row is None or not principal.governs(row[0].region_code):
        raise Problem("not-found", "No such summons in the regions you govern")
    return summons_read(row[0], row[1], cipher)


async def list_for_regulator(session: AsyncSession, *, principal: Principal, region: str | None,
                             merchant_id: uuid.UUID | None, cursor: str | None, limit: int,
                             cipher: PiiCipher) -> SummonsList:
    """Summons of enterprises in `region` (default: the regulator's own) and below, newest recorded first; 404 for a
    region the regulator does not govern."""
    area = region or principal.region or ""
    if region is not None and not regions.is_known(region):
        raise Problem("validation-error", errors=[{"field": "query.region", "code": "region_unknown",
                                                   "message": f"{region!r} is not a known GB/T 2260 region"}])
    if not principal.governs(area):
        raise Problem("not-found", "You do not govern this region")
    query = (select(Summons, Merchant.name).join(Merchant, Merchant.id == Summons.merchant_id)
             .where(Summons.region_code.startswith(regions.prefix(area), autoescape=True))
             .order_by(Summons.id.desc()).limit(limit + 1))
    if merchant_id is not None:
        query = query.where(Summons.merchant_id == merchant_id)
    if cursor is not None:
        query = query.where(Summons.id < decode_cursor(cursor))
    rows = (await session.execute(query)).all()
    page, next_cursor = page_of(rows, limit, lambda row: row[0].id)
    return SummonsList(items=[summons_read(summons, name, cipher) for summons, name in page], next_cursor=next_cursor)


async def of_enterprises(session: AsyncSession, merchant_ids: Sequence[uuid.UUID], *, start: date,
                         end: date) -> dict[uuid.UUID, list[Summons]]:
    """Summons held in [start, end] per enterprise, newest first (for scorecards)."""
    found: dict[uuid.UUID, list[Summons]] = {}
    for summons in (await session.scalars(
            select(Summons).where(Summons.merchant_id.in_(merchant_ids), Summons.held_on >= start,
                                  Summons.held_on <= end).order_by(Summons.held_on.desc(), Summons.id.desc()))).all():
        found.setdefault(summons.merchant_id, []).append(summons)
    return found
