"""Request-scoped dependencies of the merchants routers (session and runtime: servicekit.dependencies)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from merchants.settings import MerchantsSettings
from servicekit.app import get_runtime
from servicekit.auth import Audience, Principal, Role, require
from servicekit.problems import Problem


async def _settings(request: Request) -> MerchantsSettings:
    return cast(MerchantsSettings, get_runtime(request).settings)


Settings = Annotated[MerchantsSettings, Depends(_settings)]


@dataclass(frozen=True)
class EnterpriseCaller:
    """An ODR enterprise's token, reduced to the enterprise it acts for."""

    merchant_id: uuid.UUID
    client_id: str | None


async def _enterprise(principal: Annotated[Principal, Depends(require(Audience.MERCHANT, Role.ENTERPRISE))]
                ) -> EnterpriseCaller:
    if principal.merchant_id is None:
        raise Problem("forbidden", "The token names no enterprise")
    return EnterpriseCaller(merchant_id=principal.merchant_id, client_id=principal.client_id)


Enterprise = Annotated[EnterpriseCaller, Depends(_enterprise)]
# Mediators and station staff share the regulator audience; reviewing enterprises is for regulators alone.
Regulator = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.REGULATOR))]
