"""What a running gateway holds, reached by endpoints through `request.app.state.gateway`."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Request

from gateway.openapi import MergedOpenApi
from gateway.otp import OtpCodes
from gateway.proxy import Proxy
from gateway.settings import GatewaySettings
from servicekit.auth import TokenIssuer
from servicekit.ratelimit import TokenBuckets


@dataclass
class GatewayRuntime:
    settings: GatewaySettings
    issuer: TokenIssuer
    otp: OtpCodes
    proxy: Proxy
    openapi: MergedOpenApi
    auth_limits: TokenBuckets
    otp_attempts: TokenBuckets
    # Service-to-service calls off the hot path (credential checks, OpenAPI fetches); closed in the lifespan.
    internal_client: httpx.AsyncClient


def get_runtime(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.gateway
    return runtime
