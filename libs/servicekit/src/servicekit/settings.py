"""Settings shared by every service: environment, database, broker, tokens, PII keys.

Every value comes from the environment (prefix ``ODR_``). A service subclasses
:class:`ServiceSettings` and adds its own fields; nothing is read at import time.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PLACEHOLDER = "dev-only-change-me"


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class ServiceSettings(BaseSettings):
    """Base settings; ``ODR_DATABASE_URL`` names the server, each service its own database."""

    model_config = SettingsConfigDict(env_prefix="ODR_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "service"
    environment: Environment = Environment.DEV

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        description="Server URL; the database name in it is replaced by `database_name` when that is set.",
    )
    database_name: str | None = None
    database_password: SecretStr | None = Field(
        default=None,
        description="Password of the database role, kept out of the URL so it needs no URL-encoding; when set it"
                    " replaces any password in `database_url`.",
    )
    database_pool_size: int = 10
    database_connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to open a connection, or to wait for one from the pool; a request "
                                       "that cannot get one answers 503 (servicekit.dbfailures).")
    database_statement_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a statement may run (server-side statement_timeout, and the client "
                                        "gives up a second later on a server that stopped answering).")
    admission_limit: int = Field(
        default=32, ge=1, description="Requests a service runs at once; more wait for a place (servicekit.admission).")
    admission_queue: int = Field(
        default=128, ge=0, description="Requests that may wait for a place; any beyond answer 503 `at-capacity` at "
                                       "once.")
    admission_wait_seconds: float = Field(
        default=0.5, ge=0, description="How long a request waits for a place before it answers 503 `at-capacity`.")
    admission_retry_after_seconds: int = Field(
        default=1, gt=0, description="Retry-After of the 503 `at-capacity` answer.")
    database_retry_after_seconds: int = Field(
        default=5, gt=0, description="Retry-After of the 503 answered while the database is unavailable.")

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_idempotence: bool = Field(
        default=False, description="Idempotent producer; Tansu does not support it, real Kafka does."
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=100, gt=0, description="How long the broker holds an empty fetch. Tansu answers a fetch at the end of "
                                       "this wait, so it bounds how long a new event sits there; every consumer sends "
                                       "one fetch per wait while idle, which is most of an idle broker's CPU.")
    kafka_idle_fetch_max_wait_ms: int = Field(
        default=500, gt=0, description="The fetch wait of a consumer that found nothing for a whole poll (1 s): idle "
                                       "groups fetch this rarely, and the first event after a lull waits up to about "
                                       "half of it on Tansu (a broker that answers as soon as data arrives adds "
                                       "nothing); once records flow the consumer is back to the short wait.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="SASL_SSL with SCRAM-SHA-512 on a Strimzi cluster's authenticated listener.",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_username: str | None = Field(default=None, description="The service's KafkaUser; its ACLs bound it.")
    kafka_password: SecretStr | None = None
    kafka_ca_file: Path | None = Field(default=None, description="CA bundle that signed the brokers' certificates.")

    jwt_public_key: str = Field(default="", description="PEM of the gateway's token-signing public key.")
    jwt_issuer: str = "odr-gateway"

    pii_key: SecretStr = Field(
        default=SecretStr(DEV_PLACEHOLDER),
        description="Key for AES-GCM encryption of personal data and the phone blind index.",
    )

    subject_key: SecretStr = Field(
        default=SecretStr(DEV_PLACEHOLDER),
        description="HMAC key deriving a consumer's token subject from the phone; changing it changes every sub.",
    )

    internal_token: SecretStr = Field(
        default=SecretStr(DEV_PLACEHOLDER),
        description="Shared secret on the X-Internal-Token header of service-to-service /internal endpoints.",
    )

    event_retention_hours: float = Field(
        default=168.0, gt=0,
        description="Published outbox rows and inbox rows are pruned after this many hours; the runner re-publishes"
                    " only outbox rows published within it after a restart of the in-memory broker.",
    )
    retention_prune_interval: float = Field(default=600.0, gt=0, description="Seconds between retention prunes.")

    otel_enabled: bool = Field(default=False, description="Export OpenTelemetry traces (servicekit.tracing).")
    otel_exporter_endpoint: str = Field(default="http://127.0.0.1:4318",
                                        description="OTLP/HTTP endpoint of the collector that receives the traces.")
    shutdown_grace_seconds: float = Field(
        default=4.0, gt=0, description="On SIGTERM, after the in-flight requests: how long the relay may flush and "
                                       "the consumers commit before they are cancelled (uvicorn's own grace is 5 s).")

    log_level: str = "INFO"
    log_json: bool = True

    @property
    def is_dev(self) -> bool:
        return self.environment in (Environment.DEV, Environment.TEST)

    @property
    def sqlalchemy_url(self) -> str:
        """The service's database URL: the server URL with its own database name."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+asyncpg")
        if self.database_name:
            url = url.set(database=self.database_name)
        if self.database_password is not None:
            url = url.set(password=self.database_password.get_secret_value())
        return url.render_as_string(hide_password=False)

    @model_validator(mode="after")
    def _refuse_sasl_without_credentials(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL") and not (self.kafka_username and self.kafka_password):
            raise ValueError("ODR_KAFKA_USERNAME and ODR_KAFKA_PASSWORD must be set for a SASL listener")
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.is_dev:
            return self
        for name, value in self._secret_values().items():
            if not value or value == DEV_PLACEHOLDER:
                raise ValueError(f"{name} must be set to a real secret when environment={self.environment}")
        return self

    def _secret_values(self) -> dict[str, str]:
        """Secrets that must not keep their development placeholder; subclasses add theirs."""
        return {
            "ODR_PII_KEY": self.pii_key.get_secret_value(),
            "ODR_SUBJECT_KEY": self.subject_key.get_secret_value(),
            "ODR_INTERNAL_TOKEN": self.internal_token.get_secret_value(),
            "ODR_JWT_PUBLIC_KEY": self.jwt_public_key,
        }
