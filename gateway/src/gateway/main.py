"""The gateway application: token endpoints, merged OpenAPI, health, and the allow-listed proxy behind them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import tokens
from gateway.edge import EdgeMiddleware
from gateway.openapi import MergedOpenApi
from gateway.otp import WINDOW_SECONDS, OtpCodes
from gateway.personal_data import router as personal_data_router
from gateway.proxy import PROXIED_ROUTE_SCOPE_KEY, Proxy
from gateway.routes import ROUTES, RouteTable
from gateway.runtime import GatewayRuntime, get_runtime
from gateway.settings import GatewaySettings
from gateway.webapp import mount_webapp
from servicekit.app import settle_heap
from servicekit.auth import VERIFIED_TOKEN_SECONDS, TokenIssuer, TokenVerifier, generate_private_key_pem
from servicekit.observability import (
    ReadinessCheck,
    RequestContextMiddleware,
    configure_logging,
    get_logger,
    health_router,
)
from servicekit.problems import Problem, declare_problem_responses, install_problem_handlers
from servicekit.ratelimit import TokenBuckets
from servicekit.tracing import FASTAPI_TELEMETRY_OFF, configure_tracing

PROXIED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Every client's token passes the gateway, so it keeps more verified tokens than a service (about 1 KB each); a
# signature check costs about 0.4 ms per request.
VERIFIED_TOKENS_KEPT = 20_000


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """Build the gateway (`uvicorn gateway.main:create_app --factory` reads settings from the environment)."""
    settings = settings or GatewaySettings()
    configure_logging(settings.service_name, level=settings.log_level, json_logs=settings.log_json)
    issuer = TokenIssuer(_signing_key(settings), settings.jwt_issuer, key_id=settings.jwt_key_id)
    table = RouteTable(ROUTES)
    proxy = Proxy(settings, table, TokenVerifier(issuer.public_key_pem(), settings.jwt_issuer,
                                                 cache_size=VERIFIED_TOKENS_KEPT, cache_seconds=VERIFIED_TOKEN_SECONDS))
    runtime = GatewayRuntime(
        settings=settings,
        issuer=issuer,
        otp=OtpCodes(settings.otp_secret.get_secret_value()),
        proxy=proxy,
        openapi=MergedOpenApi(settings, table),
        auth_limits=TokenBuckets(rate=settings.auth_rate_per_minute / 60, burst=settings.auth_rate_burst),
        otp_attempts=TokenBuckets(rate=settings.otp_attempts_per_phone / WINDOW_SECONDS,
                                  burst=settings.otp_attempts_per_phone),
        internal_client=httpx.AsyncClient(timeout=settings.internal_call_timeout),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracing = configure_tracing(settings.service_name, enabled=settings.otel_enabled,
                                    endpoint=settings.otel_exporter_endpoint)
        await proxy.start()
        settle_heap()
        try:
            yield
        finally:
            await proxy.close()
            await runtime.internal_client.aclose()
            if tracing is not None:
                await asyncio.to_thread(tracing.shutdown)

    app = Gateway(
        title="ODR gateway",
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY_OFF,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.gateway = runtime
    install_problem_handlers(app)
    # The same layers, in the same order, serve the gateway's own endpoints and the proxied requests.
    layers: list[Middleware] = [
        # Outermost: the client address, the /metrics guard and the security headers apply to every answer.
        Middleware(EdgeMiddleware, trusted_proxies=settings.trusted_proxies,
                   metrics_networks=settings.metrics_allowed_networks,
                   internal_token=settings.internal_token.get_secret_value()),
    ]
    if settings.cors_origins:
        layers.append(Middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=PROXIED_METHODS,
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "Accept-Language",
                           "X-Request-Id", "Last-Event-ID"],
            expose_headers=["ETag", "Location", "X-Request-Id", "Retry-After"], max_age=600))
    layers.append(Middleware(RequestContextMiddleware, service_name=settings.service_name, continue_traces=False))
    app.user_middleware[:0] = layers
    proxied: ASGIApp = proxy.serve
    for layer in reversed(layers):
        proxied = layer.cls(proxied, *layer.args, **layer.kwargs)
    app.proxy_allow_listed(table, proxied)
    app.include_router(health_router(_upstream_readiness))
    app.include_router(tokens.router)
    app.include_router(personal_data_router)
    _add_docs(app)
    mount_webapp(app)
    # Last: what is neither the gateway's own nor allow-listed (Gateway.__call__ took those) is answered 404.
    app.router.add_route("/{path:path}", _not_allow_listed, methods=PROXIED_METHODS, include_in_schema=False)
    refuse_shadowed_endpoints(app, table)
    return app


class Gateway(FastAPI):
    """FastAPI for the gateway's own endpoints; an allow-listed request is recognised by the route table first and
    goes straight to the proxy through the same layers (edge, CORS, request context), skipping FastAPI's routing over
    every route and mount, its exception middlewares and per-route wrapping: at 200 filings/s that was about a
    third of the gateway's CPU per proxied request (bench/gateway_cost.py)."""

    _proxy_table: RouteTable | None = None
    _proxied: ASGIApp | None = None

    def proxy_allow_listed(self, table: RouteTable, proxied: ASGIApp) -> None:
        """Send each request `table` allows to `proxied` (an ASGI app reading the route from the scope)."""
        self._proxy_table = table
        self._proxied = proxied

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._proxy_table is not None and self._proxied is not None:
            route = self._proxy_table.match(scope["method"], scope["path"])
            if route is not None:
                scope[PROXIED_ROUTE_SCOPE_KEY] = route
                await self._proxied(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def refuse_shadowed_endpoints(app: FastAPI, table: RouteTable) -> None:
    """The gateway's own endpoints were matched before the allow-list; now the allow-list is matched first, so an
    allow-listed operation that one of them also answers would silently stop reaching it: refuse to start."""
    for own in app.routes:
        path = getattr(own, "path", "")
        methods = getattr(own, "methods", None) or set(PROXIED_METHODS)
        if isinstance(own, Mount):
            shadowed = [route for route in table.routes if route.template.startswith(path + "/")]
        else:
            sample = re.sub(r"\{[^}]*\}", "x", path)
            shadowed = [route for method in methods if (route := table.match(method, sample)) is not None]
        if shadowed:
            raise ValueError(f"the allow-list shadows the gateway's own {path}: {shadowed[0].template}")


async def _not_allow_listed(request: Request) -> Response:
    raise Problem("not-found", "No such endpoint")


def _signing_key(settings: GatewaySettings) -> str:
    configured = settings.jwt_private_key.get_secret_value()
    if configured:
        return configured
    # Settings refuse an empty key outside dev, so this only happens on a developer machine.
    get_logger("gateway").warning(
        "ODR_JWT_PRIVATE_KEY is not set: signing with a key generated for this process; tokens stop verifying "
        "on restart, and services verify them only with its public key (see /.well-known/jwks.json)"
    )
    return generate_private_key_pem()


def _upstream_readiness(request: Request) -> dict[str, ReadinessCheck]:
    runtime = get_runtime(request)

    def check(base: str) -> ReadinessCheck:
        async def ready() -> None:
            async with runtime.proxy.session.get(base + "/readyz") as answer:
                if answer.status != 200:
                    raise RuntimeError(f"readyz answered {answer.status}")

        return ready

    return {service.value: check(base) for service, base in runtime.settings.upstream_bases().items()}


def _add_docs(app: FastAPI) -> None:
    gateway_spec: dict[str, Any] = {}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        if not gateway_spec:
            gateway_routes = [*tokens.router.routes, *personal_data_router.routes]
            gateway_spec.update(declare_problem_responses(
                get_openapi(title=app.title, version="1.0.0", routes=gateway_routes), gateway_routes))
        runtime = get_runtime(request)
        return JSONResponse(await runtime.openapi.document(runtime.internal_client, gateway_spec))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="ODR platform API")
