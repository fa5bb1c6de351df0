"""Settings of the mediation service (environment prefix ODR_)."""

from __future__ import annotations

from servicekit.settings import ServiceSettings

EVENT_SOURCE = "mediation"


class MediationSettings(ServiceSettings):
    """Mediation: negotiation between the parties, regulator mediation, outcomes."""

    service_name: str = "mediation"
    database_name: str | None = "odr_mediation"
