"""Consumer-rights service stations: regulators keep the registry, anyone can find a station."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement

from merchants.dependencies import Regulator
from merchants.stations import service as station_service
from merchants.stations.models import Station
from merchants.stations.schemas import StaffCreate, StaffRead, StationCreate, StationList, StationRead
from servicekit import regions
from servicekit.dependencies import DbSession
from servicekit.pagination import PageSize
from servicekit.problems import Problem

regulator_router = APIRouter(prefix="/v1/regulator/stations", tags=["regulator: service stations"])
public_router = APIRouter(prefix="/v1/public/stations", tags=["public: service stations"])



def _within(code: str) -> ColumnElement[bool]:
    return Station.region_code.startswith(regions.prefix(code), autoescape=True)


@regulator_router.post("", status_code=201, response_model=StationRead, summary="Register a service station")
async def register(body: StationCreate, principal: Regulator, session: DbSession) -> JSONResponse:
    """A station in a region I govern, hosted by a market or business."""
    station = await station_service.register_station(session, body=body, principal=principal)
    return JSONResponse(station.model_dump(mode="json"), status_code=201,
                        headers={"Location": f"{regulator_router.prefix}/{station.id}"})


@regulator_router.get("", response_model=StationList, summary="Stations of my regions")
async def list_mine(principal: Regulator, session: DbSession, cursor: str | None = None,
                    limit: PageSize = 50) -> StationList:
    """With the usernames of their staff."""
    return await station_service.list_stations(session, where=[_within(principal.region or "")], cursor=cursor,
                                               limit=limit)


@regulator_router.get("/{station_id}", response_model=StationRead, summary="One station")
async def get_one(station_id: uuid.UUID, principal: Regulator, session: DbSession) -> StationRead:
    """The station and its staff."""
    return await station_service.get_station(session, station_id=station_id, principal=principal)


@regulator_router.post("/{station_id}/staff", status_code=201, response_model=StaffRead,
                       summary="Create a staff account for the station")
async def add_staff(station_id: uuid.UUID, body: StaffCreate, principal: Regulator, session: DbSession) -> StaffRead:
    """Role station_staff, bound to the station; signs in with the password grant."""
    return await station_service.add_staff(session, station_id=station_id, body=body, principal=principal)


@public_router.get("", response_model=StationList, summary="Find a consumer-rights service station")
async def directory(session: DbSession, region: str | None = None, cursor: str | None = None,
                    limit: PageSize = 50) -> StationList:
    """Stations of a region and the regions below it (all when no region is given)."""
    where: list[ColumnElement[bool]] = []
    if region is not None:
        if not regions.is_known(region):
            raise Problem("validation-error", errors=[{"field": "query.region", "code": "region_unknown",
                                                       "message": f"{region!r} is not a known GB/T 2260 region"}])
        where.append(_within(region))
    listed = await station_service.list_stations(session, where=where, cursor=cursor, limit=limit)
    # Staff usernames are for regulators, not for the public directory.
    return StationList(items=[item.model_copy(update={"staff": []}) for item in listed.items],
                       next_cursor=listed.next_cursor)
