"""Registry steps used inside enrollment use cases; they stage rows and never commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.registry.models import Merchant, MerchantStore
from merchants.registry.uscc import InvalidUSCC, normalize_uscc
from servicekit import regions
from servicekit.problems import Problem


@dataclass(frozen=True)
class OnlineStore:
    platform: str
    store_id: str


@dataclass(frozen=True)
class MerchantDetails:
    name: str
    uscc: str
    region_code: str
    address: str
    sector: str
    operating_address: str | None = None
    stores: tuple[OnlineStore, ...] = field(default_factory=tuple)


def valid_uscc(raw: str) -> str:
    """The canonical code, or a 422 problem naming the `uscc` field."""
    try:
        return normalize_uscc(raw)
    except InvalidUSCC as exc:
        raise Problem("validation-error", errors=[{"field": "uscc", "message": str(exc), "code": "uscc_invalid"}]
                      ) from exc


def valid_region(code: str) -> str:
    """The code if GB/T 2260 knows it, or a 422 problem naming the `region_code` field."""
    if not regions.is_known(code):
        raise Problem("validation-error", errors=[
            {"field": "region_code", "message": f"{code!r} is not a known GB/T 2260 region", "code": "region_unknown"}])
    return code


async def find_by_uscc(session: AsyncSession, uscc: str) -> Merchant | None:
    """The registered merchant with this code, if any."""
    return (await session.execute(select(Merchant).where(Merchant.uscc == valid_uscc(uscc)))).scalar_one_or_none()


async def register_merchant(session: AsyncSession, details: MerchantDetails) -> Merchant:
    """Stage a new registry entry; a code already registered is a 409 problem."""
    uscc = valid_uscc(details.uscc)
    valid_region(details.region_code)
    if await find_by_uscc(session, uscc) is not None:
        raise Problem("conflict", "A merchant with this unified social credit code is already registered")
    merchant = Merchant(name=details.name, uscc=uscc, region_code=details.region_code, address=details.address,
                        operating_address=details.operating_address, sector=details.sector)
    session.add(merchant)
    await session.flush()
    await _replace_stores(session, merchant, details.stores)
    return merchant


async def update_merchant(session: AsyncSession, merchant: Merchant, details: MerchantDetails) -> None:
    """Stage the latest details of a registered merchant (its code never changes)."""
    valid_region(details.region_code)
    merchant.name = details.name
    merchant.region_code = details.region_code
    merchant.address = details.address
    merchant.operating_address = details.operating_address
    merchant.sector = details.sector
    await _replace_stores(session, merchant, details.stores)


async def _replace_stores(session: AsyncSession, merchant: Merchant, stores: tuple[OnlineStore, ...]) -> None:
    await session.execute(delete(MerchantStore).where(MerchantStore.merchant_id == merchant.id))
    unique = {(store.platform, store.store_id) for store in stores}
    taken = (await session.execute(
        select(MerchantStore.platform, MerchantStore.store_id)
        .where(MerchantStore.merchant_id != merchant.id)
        .where(MerchantStore.platform.in_({platform for platform, _ in unique}))
        .where(MerchantStore.store_id.in_({store_id for _, store_id in unique}))
    )).all()
    if clash := [f"{platform}:{store_id}" for platform, store_id in taken if (platform, store_id) in unique]:
        raise Problem("conflict", "These online stores are registered to another merchant", stores=sorted(clash))
    session.add_all(MerchantStore(merchant_id=merchant.id, platform=platform, store_id=store_id)
                    for platform, store_id in sorted(unique))
    await session.flush()


async def stores_of(session: AsyncSession, merchant_id: uuid.UUID) -> list[OnlineStore]:
    """The merchant's online stores."""
    rows = (await session.execute(
        select(MerchantStore.platform, MerchantStore.store_id).where(MerchantStore.merchant_id == merchant_id)
        .order_by(MerchantStore.platform, MerchantStore.store_id)
    )).all()
    return [OnlineStore(platform=row.platform, store_id=row.store_id) for row in rows]
