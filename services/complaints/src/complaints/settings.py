"""Settings of the complaints service (environment prefix ODR_)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from servicekit import regions
from servicekit.settings import DEV_PLACEHOLDER, ServiceSettings
from servicekit.sms import SmsTemplate

# The key of the national default negotiation period, and that default.
NATIONAL = ""
NATIONAL_NEGOTIATION_WORKING_DAYS = 10


class EvidenceBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class SmsBackend(StrEnum):
    """Who sends text messages: `dev` records them only (read with `python -m complaints.cli sms-log`); `aliyun` is
    Alibaba Cloud Short Message Service."""

    DEV = "dev"
    ALIYUN = "aliyun"


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
    # How long a closed case keeps its personal data before it may be erased, at the consumer's request or by the
    # erasure job (PIPL Art. 47; personal_data/service.py), counted from its closure: the bureau's case-file keeping
    # period. The anonymised case stays for the statistics.
    personal_data_retention_days: int = Field(default=3 * 365, ge=0)
    # How often the erasure job looks for closed cases past that period (seconds).
    personal_data_erasure_interval: float = Field(default=3600.0, gt=0)
    # Anti-abuse signal (Art. 17): this many complaints by one person against one business within the window.
    repeat_complaints_threshold: int = 3
    repeat_complaints_window_days: int = 30
    # Text messages (sign-in codes for the gateway, case notifications), sent from this service's SMS outbox.
    sms_sender: SmsBackend = SmsBackend.DEV
    sms_aliyun_access_key_id: str = ""
    sms_aliyun_access_key_secret: SecretStr = SecretStr("")
    sms_aliyun_sign_name: str = Field(default="", description="The approved signature, e.g. 12315")
    sms_aliyun_template_codes: dict[str, str] = Field(
        default_factory=dict, description="Approved template code per servicekit.sms.SmsTemplate value")
    sms_aliyun_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    sms_timeout_seconds: float = 5.0
    sms_dispatch_enabled: bool = Field(
        default=True, description="False leaves sending to other replicas (or to a test that drives the dispatcher)")
    sms_poll_interval: float = Field(default=1.0, description="Seconds the dispatcher waits when nothing is due")
    sms_max_attempts: int = Field(default=8, ge=1)
    sms_backoff_base_seconds: float = 5.0
    sms_backoff_max_seconds: float = 600.0
    # Sign-in codes: at most one per number per interval, and so many per number per hour and day and per client
    # address per hour (the usual limits of Chinese SMS providers, which would refuse more anyway).
    sms_code_interval_seconds: int = Field(default=60, ge=0)
    sms_codes_per_phone_per_hour: int = Field(default=5, ge=1)
    sms_codes_per_phone_per_day: int = Field(default=10, ge=1)
    sms_codes_per_address_per_hour: int = Field(default=30, ge=1)
    # The complainant hears this many days before the enterprise's negotiation period ends.
    sms_deadline_notice_days: int = Field(default=1, ge=0)
    sms_deadline_scan_interval: float = 600.0

    @model_validator(mode="after")
    def _aliyun_is_complete(self) -> ComplaintsSettings:
        if self.sms_sender == SmsBackend.ALIYUN:
            missing = [name for name, value in (
                ("ODR_SMS_ALIYUN_ACCESS_KEY_ID", self.sms_aliyun_access_key_id),
                ("ODR_SMS_ALIYUN_ACCESS_KEY_SECRET", self.sms_aliyun_access_key_secret.get_secret_value()),
                ("ODR_SMS_ALIYUN_SIGN_NAME", self.sms_aliyun_sign_name)) if not value]
            missing += [f"ODR_SMS_ALIYUN_TEMPLATE_CODES[{template.value}]" for template in SmsTemplate
                        if template.value not in self.sms_aliyun_template_codes]
            if missing:
                raise ValueError(f"the aliyun SMS sender needs {', '.join(missing)}")
        return self

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
