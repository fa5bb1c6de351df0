"""Structured JSON logs with request and correlation ids, request metrics, health and readiness."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.tracing import span_from

REQUEST_ID_HEADER = "x-request-id"
CORRELATION_ID_HEADER = "x-correlation-id"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)

REQUESTS = Counter("odr_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram("odr_http_request_seconds", "HTTP request latency", ["service", "method", "route"])
# Where a process routes by its own table (the gateway's proxy), it names the matched template under this scope key;
# elsewhere FastAPI's matched route gives it. Paths themselves never become labels (ids would explode them).
ROUTE_SCOPE_KEY = "odr.route"
UNMATCHED_ROUTE = "unmatched"


# Fields a log line never carries: request and response bodies, personal data, secrets. Logging code names what it
# logs (ids, statuses, counts); these are dropped should anything pass them anyway.
REDACTED_FIELDS = frozenset({
    "body", "request_body", "response_body", "payload", "data", "content", "query", "query_string", "headers",
    "name", "phone", "address", "id_number", "complainant", "agent", "joint", "filename", "password", "secret",
    "client_secret", "code", "token", "authorization",
})
# Personal values that may sit in free text (an exception's message, a driver's error): mainland mobile numbers and
# resident ID numbers are masked wherever they appear in a line.
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")


def scrub(text: str) -> str:
    """`text` with phone and ID numbers masked (138****8000, 632801********123X)."""
    return _PHONE.sub(r"\1****\2", _ID_NUMBER.sub(r"\1********\2", text))


def redact_personal(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop fields that may hold bodies or personal data, mask numbers left in free text."""
    for key in list(event):
        value = event[key]
        if key in REDACTED_FIELDS:
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif not isinstance(value, int | float | bool | type(None)):
            event[key] = scrub(str(value))
    return event


def configure_logging(service_name: str, *, level: str = "INFO", json_logs: bool = True) -> None:
    """Configure structlog once per process; stdlib loggers (uvicorn, aiokafka) go through it too.

    Every line passes `redact_personal` after exceptions are formatted, so no body, personal field or phone or ID
    number reaches the log (architecture.md §6). httpx's per-request lines (whole URLs, with query strings) are off.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service_name),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact_personal, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact_personal, renderer],
        foreign_pre_chain=[*shared, structlog.processors.format_exc_info],
    ))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # A uvicorn started with its own log config gives its loggers handlers of their own that bypass the root's
    # redaction; every line must pass through it. (Access lines stay as uvicorn's access_log setting leaves them:
    # off, since a URL can carry personal data in its query.)
    for server_logger in ("uvicorn", "uvicorn.error"):
        logging.getLogger(server_logger).handlers = []
        logging.getLogger(server_logger).propagate = True
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _add_service(service_name: str) -> Callable[[Any, str, dict[str, Any]], dict[str, Any]]:
    def add(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service_name)
        return event

    return add


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def current_correlation_id() -> str | None:
    return correlation_id_var.get()


def current_causation_id() -> str | None:
    """The id of the event being handled, when an event (not a request) caused this work."""
    return causation_id_var.get()


class RequestContextMiddleware:
    """Assigns request and correlation ids, echoes them, binds them to logs, records metrics."""

    def __init__(self, app: ASGIApp, service_name: str, continue_traces: bool = True) -> None:
        self.app = app
        self.service_name = service_name
        self.continue_traces = continue_traces
        self.log = get_logger("servicekit.http")
        # The metric children of each (method, route, status) and (method, route), kept: `labels()` takes a lock and
        # builds its key on every call. Routes are templates and statuses few, so these stay small.
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = _clean(headers.get(REQUEST_ID_HEADER.encode())) or uuid.uuid4().hex
        correlation_id = _clean(headers.get(CORRELATION_ID_HEADER.encode())) or request_id
        request_token = request_id_var.set(request_id)
        correlation_token = correlation_id_var.set(correlation_id)
        structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
        started = time.perf_counter()
        status_holder = [500]
        method = scope["method"]
        # The edge starts every trace itself: a caller outside the platform does not choose its trace.
        incoming_traceparent = headers.get(b"traceparent") if self.continue_traces else None

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    (CORRELATION_ID_HEADER.encode(), correlation_id.encode()),
                ]
            await send(message)

        # The span is named by its route once routing has found it (a path would name every case separately).
        with span_from(incoming_traceparent.decode("latin-1") if incoming_traceparent else None, method,
                       kind=SpanKind.SERVER,
                       attributes={"http.request.method": method, "odr.request_id": request_id}) as span:
            try:
                await self.app(scope, receive, send_with_ids)
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                self._requests(method, route, status_holder[0]).inc()
                self._latency(method, route).observe(elapsed)
                span.update_name(f"{method} {route}")
                span.set_attributes({"http.route": route, "http.response.status_code": status_holder[0]})
                if status_holder[0] >= 500:
                    span.set_status(StatusCode.ERROR)
                    self.log.warning("request failed", path=scope["path"], method=method, status=status_holder[0],
                                     ms=round(elapsed * 1000, 1))
                structlog.contextvars.unbind_contextvars("request_id", "correlation_id")
                request_id_var.reset(request_token)
                correlation_id_var.reset(correlation_token)


    def _requests(self, method: str, route: str, status: int) -> Counter:
        key = (method, route, status)
        child = self._counted.get(key)
        if child is None:
            child = self._counted[key] = REQUESTS.labels(self.service_name, method, route, str(status))
        return child

    def _latency(self, method: str, route: str) -> Histogram:
        key = (method, route)
        child = self._timed.get(key)
        if child is None:
            child = self._timed[key] = LATENCY.labels(self.service_name, method, route)
        return child


def _route_template(scope: Scope) -> str:
    named = scope.get(ROUTE_SCOPE_KEY)
    if isinstance(named, str):
        return named
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


def _clean(raw: bytes | None) -> str | None:
    """Accept a caller's id only if it is short and printable, so logs cannot be forged."""
    if not raw or len(raw) > 128:
        return None
    text = raw.decode("latin-1")
    return text if text.isprintable() and " " not in text else None


ReadinessCheck = Callable[[], Awaitable[None]]


def health_router(checks: Callable[[Request], dict[str, ReadinessCheck]]) -> APIRouter:
    """`/healthz`: the process answers. `/readyz`: every dependency answered within a second."""
    import asyncio

    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: every dependency needed to serve requests answers")
    async def readyz(request: Request) -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks(request).items():
            try:
                await asyncio.wait_for(check(), timeout=1.0)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}"
        ready = all(value == "ok" for value in results.values())
        return JSONResponse({"status": "ready" if ready else "not-ready", "checks": results},
                            status_code=200 if ready else 503)

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def install_request_context(app: FastAPI, service_name: str, *, continue_traces: bool = True) -> None:
    """`continue_traces=False` at the edge: an incoming traceparent is ignored and every request starts a trace."""
    app.add_middleware(RequestContextMiddleware, service_name=service_name, continue_traces=continue_traces)
