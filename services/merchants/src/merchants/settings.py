"""Settings of the merchants service (environment prefix ODR_)."""

from __future__ import annotations

from servicekit.settings import ServiceSettings

EVENT_SOURCE = "merchants"


class MerchantsSettings(ServiceSettings):
    """Merchants: the registry, ODR enrollment and the credentials the gateway checks."""

    service_name: str = "merchants"
    database_name: str | None = "odr_merchants"
