"""Settings of the merchants service (environment prefix ODR_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from servicekit.settings import ServiceSettings

EVENT_SOURCE = "merchants"
MIB = 1024 * 1024


class MerchantsSettings(ServiceSettings):
    """Merchants: the registry, ODR enrollment and the credentials the gateway checks."""

    service_name: str = "merchants"
    database_name: str | None = "odr_merchants"

    licence_dir: Path = Field(default=Path(".odr/licences"), description="Where uploaded business licences are kept.")
    licence_max_bytes: int = 5 * MIB
    applications_per_hour: float = Field(default=20.0, description="Sustained ODR applications per client address.")
    applications_burst: int = 5

    credentials_link_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        description="How long after approval the applicant's one-time credentials link can be used.")
    portal_activation_ttl_seconds: int = Field(
        default=72 * 3600, description="How long an enterprise portal account's one-time activation code works.")
    credential_overlap_seconds: int = Field(
        default=24 * 3600, description="How long a rotated-out client secret keeps working beside its successor.")

    staff_lockout_failures: int = Field(default=5, description="Failed staff sign-ins within the window that lock.")
    staff_lockout_window_seconds: int = Field(default=15 * 60, description="Window in which failures are counted.")
    staff_lockout_seconds: int = Field(default=15 * 60, description="How long a locked staff account stays locked.")
    session_consumer_idle_seconds: int = Field(
        default=30 * 24 * 3600, description="A consumer's refresh token expires this long after it was issued unused.")
    session_consumer_lifetime_seconds: int = Field(
        default=90 * 24 * 3600, description="A consumer signs in again at the latest this long after signing in.")
    session_staff_idle_seconds: int = Field(
        default=8 * 3600, description="A staff member's refresh token expires this long after it was issued unused.")
    session_staff_lifetime_seconds: int = Field(
        default=24 * 3600, description="A staff member signs in again at the latest this long after signing in.")

    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR networks webhooks may reach although they are private, loopback or link-local.",
    )
    webhook_secret_overlap_seconds: float = Field(
        default=24 * 3600, description="After a secret change, deliveries carry both signatures for this long.")
    webhook_timeout_seconds: float = 10.0
    webhook_poll_interval: float = Field(
        default=5.0, description="Longest idle wait of the delivery worker; new deliveries wake it at once (NOTIFY).")
    webhook_backoff_base_seconds: float = 30.0
    webhook_backoff_max_seconds: float = 3600.0
    webhook_retry_window_seconds: float = Field(default=24 * 3600, description="How long a delivery is retried.")
    webhook_disable_after_failures: int = Field(
        default=50, description="Consecutive failed attempts after which an endpoint is disabled ...")
    webhook_disable_after_seconds: float = Field(
        default=24 * 3600, description="... provided it has not succeeded for this long either.")
    webhook_subscriptions_ttl_seconds: float = Field(
        default=30.0, gt=0, description="How long the case-event consumers remember which events an enterprise's "
                                        "endpoint takes; saving the endpoint makes them forget it at once (NOTIFY).")
    webhook_batch_size: int = Field(default=50, description="Deliveries claimed per query.")
    webhook_concurrency: int = Field(default=64, description="Deliveries in flight at a time per instance.")
    webhook_concurrency_per_endpoint: int = Field(
        default=32, ge=1, description="Of those, at most this many to one enterprise's endpoint, so an endpoint that "
                                      "hangs holds only its own share and the others' deliveries go on.")

    scorecard_window_days: int = Field(default=30, description="Default period of a scorecard, ending today.")
    scorecard_min_cases: int = Field(default=5, description="Fewer cases in the window are not judged.")
    scorecard_min_on_time_rate: float = Field(default=0.8, description="Share answered within the deadline.")
    scorecard_min_settlement_rate: float = 0.5
    scorecard_min_rating: float = Field(default=3.0, description="Average consumer rating, 1-5.")
    scorecard_propose_after_days: int = Field(
        default=14, description="A warning still deserved this long after it was raised becomes a suspension proposal.")
    scorecard_evaluation_interval: float = Field(default=3600.0, description="Seconds between threshold checks.")
