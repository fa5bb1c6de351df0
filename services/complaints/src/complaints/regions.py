"""The regions complaints are filed in (GB/T 2260, `servicekit.regions`), for pickers that name a business's place."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from servicekit import regions

public_router = APIRouter(prefix="/v1/public/regions", tags=["public: regions"])


class RegionRead(BaseModel):
    code: str
    name: str
    level: regions.Level
    parent_code: str | None


class RegionList(BaseModel):
    items: list[RegionRead]


@public_router.get("", response_model=RegionList, summary="Every region a complaint can name, by code")
async def list_regions() -> RegionList:
    """Provinces, prefectures and counties the platform knows, ordered by code; `parent_code` is the next region
    up that is listed (a county's prefecture, else its province), so a picker can go province -> prefecture ->
    county. Names are the official Chinese ones."""
    return RegionList(items=[
        RegionRead(code=region.code, name=region.name, level=region.level,
                   parent_code=parent.code if (parent := regions.parent(region.code)) is not None else None)
        for region in regions.all_regions()
    ])
