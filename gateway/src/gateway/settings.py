"""Gateway settings: where the services are, the token-signing key, limits and timeouts (env prefix ``ODR_``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from gateway.routes import Upstream
from servicekit.settings import DEV_PLACEHOLDER, ServiceSettings

MIB = 1024 * 1024


class GatewaySettings(ServiceSettings):
    """The gateway holds no database: upstream URLs, the private signing key and the edge limits."""

    model_config = SettingsConfigDict(env_prefix="ODR_", extra="ignore", env_nested_delimiter="__",
                                      validate_by_name=True)

    service_name: str = "gateway"
    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("ODR_GATEWAY_HOST", "host"))
    port: int = Field(default=8000, validation_alias=AliasChoices("ODR_GATEWAY_PORT", "port"))

    complaints_url: str = "http://127.0.0.1:8001"
    merchants_url: str = "http://127.0.0.1:8002"
    mediation_url: str = "http://127.0.0.1:8003"

    jwt_private_key: SecretStr = Field(
        default=SecretStr(""),
        description="PEM (PKCS#8, P-256) signing key; in dev mode a fresh one is generated when none is set.",
    )
    jwt_key_id: str = "odr-1"
    otp_secret: SecretStr = Field(
        default=SecretStr(DEV_PLACEHOLDER),
        description="HMAC key deriving one-time codes (consumer subjects use `subject_key`).",
    )
    access_token_ttl_seconds: int = Field(
        default=900,
        description="Access tokens of consumers, staff and portal users, who refresh them with a refresh token.")
    client_token_ttl_seconds: int = Field(
        default=3600, description="Enterprise (client_credentials) tokens; revocation still bites within seconds.")

    max_body_bytes: int = MIB

    upstream_connect_timeout: float = 2.0
    upstream_total_timeout: float = Field(
        default=15.0, description="Whole exchange; for event streams only until the response headers arrive."
    )
    upstream_pool_size: int = Field(default=256, description="Keep-alive connections per upstream.")
    upstream_keepalive_seconds: float = Field(
        default=4.0, description="Below uvicorn's 5 s idle close, so a pooled connection is never reused as it dies."
    )
    upstream_admission_limit: int = Field(
        default=64, ge=1, description="Requests relayed to one service at once (event streams aside); more wait.")
    upstream_admission_queue: int = Field(
        default=256, ge=0, description="Requests that may wait for a place towards one service; any beyond answer "
                                       "503 `at-capacity` at once.")
    upstream_admission_wait_seconds: float = Field(
        default=1.0, ge=0, description="How long a request waits for a place towards its service before it answers "
                                       "503 `at-capacity`.")
    upstream_admission_retry_after_seconds: int = Field(
        default=1, gt=0, description="Retry-After of the gateway's 503 `at-capacity` answer.")
    internal_call_timeout: float = 3.0
    circuit_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failed exchanges with a service that open its circuit.")
    circuit_open_seconds: float = Field(
        default=5.0, gt=0, description="How long an open circuit answers 503 before one trial request is let through.")
    client_status_ttl_seconds: float = Field(
        default=3.0, le=5.0,
        description="How long an enterprise client's active status is cached; a revocation bites within this.")
    openapi_cache_seconds: float = 30.0

    auth_rate_per_minute: float = Field(default=30.0, description="Sustained /auth/* requests per client address.")
    auth_rate_burst: int = 10
    otp_attempts_per_phone: int = Field(default=10, description="Code checks per phone number within five minutes.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDRs of proxies (the ingress) whose X-Forwarded-For / -Proto are believed; none by"
                    " default, so the TCP peer is the client (gateway.edge).")
    metrics_allowed_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="TCP peers that may read /metrics without the internal token (the scraper's network).")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins of the platform's own screens allowed to call the API from a browser (CORS); none by"
                    " default: the web app at /app/ is same-origin.")

    def upstream_bases(self) -> dict[Upstream, str]:
        """Base URL of each service, without a trailing slash."""
        return {
            Upstream.COMPLAINTS: self.complaints_url.rstrip("/"),
            Upstream.MERCHANTS: self.merchants_url.rstrip("/"),
            Upstream.MEDIATION: self.mediation_url.rstrip("/"),
        }

    def _secret_values(self) -> dict[str, str]:
        return {
            "ODR_INTERNAL_TOKEN": self.internal_token.get_secret_value(),
            "ODR_JWT_PRIVATE_KEY": self.jwt_private_key.get_secret_value(),
            "ODR_OTP_SECRET": self.otp_secret.get_secret_value(),
            "ODR_SUBJECT_KEY": self.subject_key.get_secret_value(),
        }
