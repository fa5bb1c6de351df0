"""Settings of the mediation service (environment prefix ODR_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from servicekit.settings import ServiceSettings

EVENT_SOURCE = "mediation"


class MediationSettings(ServiceSettings):
    """Mediation: negotiation between the parties, regulator mediation, outcomes."""

    service_name: str = "mediation"
    database_name: str | None = "odr_mediation"

    sweep_interval_seconds: float = Field(default=30.0, gt=0, description="How often the deadline sweepers run.")
    fulfilment_confirm_days: int = Field(
        default=7, ge=1,
        description="Days after the fulfilment due date without the consumer's confirmation before a reminder; "
                    "as many again before the regulator is flagged.")
    mediation_days: int = Field(default=60, ge=1, description="Regulator mediation cap from acceptance (Art. 23(5)).")
    termination_notice_working_days: int = Field(
        default=7, ge=1, description="Working days to notify both parties of a termination (Art. 23).")
    outcome_signal_interval_seconds: float = Field(
        default=600.0, gt=0, description="How often the outcome-signals job looks for overdue fulfilment and outliers.")
    attachment_dir: Path = Field(default=Path(".odr/attachments"), description="Where message attachments are kept.")
    attachment_max_bytes: int = Field(default=5 * 1024 * 1024, gt=0, description="Largest attachment accepted.")
