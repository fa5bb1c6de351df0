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


async def _enterprise_manager(caller: Enterprise, principal: Annotated[Principal, Depends(
        require(Audience.MERCHANT, Role.ENTERPRISE))]) -> EnterpriseCaller:
    # An API client acts for the whole enterprise; among its people only the admin changes how it is connected.
    if principal.is_portal_user and Role.ENTERPRISE_ADMIN not in principal.roles:
        raise Problem("forbidden", "Only the enterprise's portal admin may do this")
    return caller


# Webhook settings and credential rotation: an API client, or a portal user holding `enterprise_admin`.
EnterpriseManager = Annotated[EnterpriseCaller, Depends(_enterprise_manager)]
# A person signed in to the enterprise portal (any portal role), and its admin alone.
PortalUser = Annotated[Principal, Depends(require(Audience.MERCHANT, Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_AGENT))]
PortalAdmin = Annotated[Principal, Depends(require(Audience.MERCHANT, Role.ENTERPRISE_ADMIN))]
# Mediators and station staff share the regulator audience; reviewing enterprises is for regulators alone.
Regulator = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.REGULATOR))]
