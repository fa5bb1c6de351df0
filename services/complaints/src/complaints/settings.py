"""Settings of the complaints service (environment prefix ODR_)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from servicekit import regions
from servicekit.settings import DEV_PLACEHOLDER, ServiceSettings

# The key of the national default negotiation period, and that default.
NATIONAL = ""
NATIONAL_NEGOTIATION_WORKING_DAYS = 10


class EvidenceBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class ComplaintsSettings(ServiceSettings):
    """The shared settings with this service's name and database."""

    service_name: str = "complaints"
    database_name: str | None = "odr_complaints"
    # How often the breach sweeper looks for clocks that ran out (seconds).
    deadline_sweep_interval: float = 30.0
    # How often the statistics compactor folds the deltas the triggers appended into the cubes (seconds). Queries
    # are exact either way; a longer interval only leaves them more deltas to add.
    stats_fold_interval: float = 1.0
    # Working days an ODR enterprise has to negotiate (docs/architecture.md §4), by GB/T 2260 region code: a key covers
    # that region and those below it, the most specific key wins; "" is the national default (10 unless given).
    merchant_negotiation_working_days: dict[str, int] = Field(
        default_factory=lambda: {NATIONAL: NATIONAL_NEGOTIATION_WORKING_DAYS})
    # Evidence attachments: the largest one accepted, and where they are kept: a directory on local disk, or a bucket
    # of an S3-compatible store (no endpoint URL means AWS itself).
    evidence_max_bytes: int = 5 * 1024 * 1024
    evidence_store: EvidenceBackend = EvidenceBackend.LOCAL
    evidence_dir: Path = Path(".odr/evidence")
    evidence_s3_endpoint_url: str | None = None
    evidence_s3_bucket: str = "odr-evidence"
    evidence_s3_region: str = "us-east-1"
    evidence_s3_access_key: str = ""
    evidence_s3_secret_key: SecretStr = SecretStr(DEV_PLACEHOLDER)
    # Working days the bureau has to answer a consultation (咨询). Order 121 leaves consultations out (Art. 44), so no
    # statute sets it: the default is the bureau's 7-working-day period for its first answer on a complaint (Art. 15).
    consultation_answer_working_days: int = Field(default=7, ge=1, le=60)
    # Anti-abuse signal (Art. 17): this many complaints by one person against one business within the window.
    repeat_complaints_threshold: int = 3
    repeat_complaints_window_days: int = 30

    @field_validator("merchant_negotiation_working_days")
    @classmethod
    def _known_regions_and_positive_periods(cls, periods: dict[str, int]) -> dict[str, int]:
        unknown = sorted(code for code in periods if code != NATIONAL and not regions.is_known(code))
        if unknown:
            raise ValueError(f"unknown region codes {unknown}")
        if any(days < 1 for days in periods.values()):
            raise ValueError("a negotiation period is at least one working day")
        return {NATIONAL: NATIONAL_NEGOTIATION_WORKING_DAYS, **periods}

    def _secret_values(self) -> dict[str, str]:
        secrets = super()._secret_values()
        if self.evidence_store is EvidenceBackend.S3:
            secrets["ODR_EVIDENCE_S3_SECRET_KEY"] = self.evidence_s3_secret_key.get_secret_value()
        return secrets
