"""Station use cases: regulators register stations of their regions and give their staff accounts."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.credentials import passwords
from merchants.credentials.hashing import hash_secret_async
from merchants.credentials.models import StaffAccount, StaffRole
from merchants.registry.models import Merchant
from merchants.registry.service import valid_region
from merchants.stations.models import Station
from merchants.stations.schemas import StaffCreate, StaffRead, StationCreate, StationList, StationRead
from servicekit.auth import Principal
from servicekit.pagination import decode_cursor, page_of
from servicekit.problems import Problem


async def _read(session: AsyncSession, station: Station) -> StationRead:
    staff = (await session.scalars(
        select(StaffAccount.username)
        .where(StaffAccount.station_id == station.id, StaffAccount.disabled_at.is_(None))
        .order_by(StaffAccount.username))).all()
    return StationRead(id=station.id, name=station.name, host_name=station.host_name,
                       host_merchant_id=station.host_merchant_id, region_code=station.region_code,
                       address=station.address, phone=station.phone, created_at=station.created_at, staff=list(staff))


async def register_station(session: AsyncSession, *, body: StationCreate, principal: Principal) -> StationRead:
    """Use case: a regulator registers a station in a region it governs."""
    valid_region(body.region_code)
    if not principal.governs(body.region_code):
        raise Problem("forbidden", "You may register stations only in the regions you govern")
    async with session.begin():
        if body.host_merchant_id is not None and await session.get(Merchant, body.host_merchant_id) is None:
            raise Problem("validation-error", errors=[{"field": "body.host_merchant_id", "code": "unknown",
                                                       "message": "No such merchant in the registry"}])
        station = Station(name=body.name, host_name=body.host_name, host_merchant_id=body.host_merchant_id,
                          region_code=body.region_code, address=body.address, phone=body.phone,
                          created_by=principal.sub)
        session.add(station)
        await session.flush()
        return await _read(session, station)


async def governed_station(session: AsyncSession, station_id: uuid.UUID, principal: Principal) -> Station:
    """The station, if the regulator governs its region; else 404."""
    station = await session.get(Station, station_id)
    if station is None or not principal.governs(station.region_code):
        raise Problem("not-found", "No such station in the regions you govern")
    return station


async def get_station(session: AsyncSession, *, station_id: uuid.UUID, principal: Principal) -> StationRead:
    """One station of the regulator's regions with its staff."""
    return await _read(session, await governed_station(session, station_id, principal))


async def list_stations(session: AsyncSession, *, where: list[ColumnElement[bool]], cursor: str | None,
                        limit: int) -> StationList:
    """Stations matching `where`, by id."""
    query = select(Station).where(*where).order_by(Station.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(Station.id > decode_cursor(cursor))
    page, next_cursor = page_of((await session.scalars(query)).all(), limit, lambda station: station.id)
    return StationList(items=[await _read(session, station) for station in page], next_cursor=next_cursor)


async def add_staff(session: AsyncSession, *, station_id: uuid.UUID, body: StaffCreate,
                    principal: Principal) -> StaffRead:
    """Use case: create a station_staff account bound to the station (409 if the username is taken, 422 for a
    password breaking the rules of `credentials.passwords`)."""
    passwords.check_password(body.password, username=body.username, field="body.password")
    password_hash = await hash_secret_async(body.password)
    async with session.begin():
        station = await governed_station(session, station_id, principal)
        taken = await session.scalar(select(StaffAccount.id).where(StaffAccount.username == body.username))
        if taken is not None:
            raise Problem("conflict", "This username is taken")
        account = StaffAccount(username=body.username, password_hash=password_hash, role=StaffRole.STATION_STAFF,
                               region_code=station.region_code, station_id=station.id,
                               display_name=body.display_name)
        session.add(account)
    return StaffRead(username=account.username, role=account.role, station_id=station.id,
                     region_code=station.region_code, display_name=account.display_name)
