"""Settings of the complaints service (environment prefix ODR_)."""

from __future__ import annotations

from servicekit.settings import ServiceSettings


class ComplaintsSettings(ServiceSettings):
    """The shared settings with this service's name and database."""

    service_name: str = "complaints"
    database_name: str | None = "odr_complaints"
