"""Registry steps used inside enrollment use cases; they stage rows and never commit."""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.problems import Problem
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.registry.models import Merchant
from merchants.registry.uscc import InvalidUSCC, normalize_uscc


@dataclass(frozen=True)
class MerchantDetails:
    name: str
    uscc: str
    region_code: str
    address: str
    sector: str


def valid_uscc(raw: str) -> str:
    """The canonical code, or a 422 problem naming the `uscc` field."""
    try:
        return normalize_uscc(raw)
    except InvalidUSCC as exc:
        raise Problem("validation-error", errors=[{"field": "uscc", "message": str(exc), "code": "uscc_invalid"}]
                      ) from exc


async def find_by_uscc(session: AsyncSession, uscc: str) -> Merchant | None:
    """The registered merchant with this code, if any."""
    return (await session.execute(select(Merchant).where(Merchant.uscc == valid_uscc(uscc)))).scalar_one_or_none()


async def register_merchant(session: AsyncSession, details: MerchantDetails) -> Merchant:
    """Stage a new registry entry; a code already registered is a 409 problem."""
    uscc = valid_uscc(details.uscc)
    if await find_by_uscc(session, uscc) is not None:
        raise Problem("conflict", "A merchant with this unified social credit code is already registered")
    merchant = Merchant(name=details.name, uscc=uscc, region_code=details.region_code, address=details.address,
                        sector=details.sector)
    session.add(merchant)
    await session.flush()
    return merchant
