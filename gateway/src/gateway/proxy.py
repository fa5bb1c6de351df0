"""Forwarding allow-listed requests to their service over pooled aiohttp connections, streaming the answers back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import quote

import aiohttp
from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from yarl import URL

from gateway.breaker import CircuitBreaker
from gateway.live import FEED_PATH, FEED_SERVICES, STREAM_PING_SECONDS, CaseFeed, Detail, follow
from gateway.revocation import ClientStatusCache, merchants_fetch, status_path
from gateway.routes import PUBLIC, Route, RouteTable, Upstream
from gateway.settings import GatewaySettings
from servicekit.admission import AdmissionGate, AtCapacity
from servicekit.auth import TokenVerifier, bearer_token
from servicekit.observability import ROUTE_SCOPE_KEY, correlation_id_var, get_logger, request_id_var
from servicekit.problems import Problem, problem_response, unhandled_error_response
from servicekit.sse import ChunkStream, EventStream
from servicekit.tracing import inject_into

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade",
})
# Ids and forwarding headers are set by the gateway itself; the internal token must never come from outside.
DROPPED_REQUEST_HEADERS = HOP_BY_HOP | {
    "host", "content-length", "expect", "x-request-id", "x-correlation-id", "x-internal-token",
    "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded", "traceparent", "tracestate",
}
# The gateway's own server stamps these (ids come from the request-context middleware).
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"content-length", "server", "date", "x-request-id", "x-correlation-id"}
# Larger answers, or answers of unknown length, are streamed instead of read whole.
BUFFERED_RESPONSE_LIMIT = 256 * 1024
# How much of a refused body is read and dropped so that the 413 reaches the client.
DISCARD_BUDGET_BYTES = 16 * 1024 * 1024
DISCARD_BUDGET_SECONDS = 5.0
QUOTE_SAFE_PATH = "/:@!$&'()*+,;=~"
UNAVAILABLE_RETRY_AFTER_SECONDS = 2
# Where `gateway.main` leaves the allow-listed route it found for a request it hands to `Proxy.serve`.
PROXIED_ROUTE_SCOPE_KEY = "odr.proxied_route"

UPSTREAM_LATENCY = Histogram("odr_gateway_upstream_seconds", "Time to upstream response headers", ["service"])
UPSTREAM_FAILURES = Counter("odr_gateway_upstream_failures_total", "Upstream exchanges that failed",
                            ["service", "reason"])

log = get_logger("gateway.proxy")


def client_address(request: Request) -> str:
    """The caller's address, as `gateway.edge` resolved it (X-Forwarded-For only from a configured trusted proxy)."""
    return request.client.host if request.client else "unknown"


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `limit` (nothing is forwarded)."""
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise Problem("malformed-request", "Content-Length is not a number", headers={"Connection": "close"})
    stream = request.stream()
    if declared is not None and int(declared) > limit:
        raise await _too_large(stream, limit, int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise await _too_large(stream, limit, None)
        chunks.append(chunk)
    return b"".join(chunks)


async def _too_large(stream: AsyncIterator[bytes], limit: int, declared: int | None) -> Problem:
    """The 413 problem, after discarding a moderately sized remainder so the client can read the answer.

    Closing a connection with unread data makes the peer's TCP stack reset it, and the client then sees a
    broken connection instead of the 413. Bodies beyond the discard budget still get the close.
    """
    problem = Problem("payload-too-large", f"The body may not exceed {limit} bytes")
    close = Problem("payload-too-large", problem.detail, headers={"Connection": "close"})
    if declared is not None and declared > DISCARD_BUDGET_BYTES:
        return close
    discarded = 0
    try:
        async with asyncio.timeout(DISCARD_BUDGET_SECONDS):
            async for chunk in stream:
                discarded += len(chunk)
                if discarded > DISCARD_BUDGET_BYTES:
                    return close
    except TimeoutError:
        return close
    return problem


class Proxy:
    """Checks a request against the allow-list and its token, then relays it to the owning service."""

    def __init__(self, settings: GatewaySettings, table: RouteTable, verifier: TokenVerifier) -> None:
        self.settings = settings
        self.table = table
        self.verifier = verifier
        self.bases = settings.upstream_bases()
        self.clients = ClientStatusCache(
            merchants_fetch(lambda: self.session, self.bases[Upstream.MERCHANTS],
                            settings.internal_token.get_secret_value(), settings.internal_call_timeout),
            ttl=settings.client_status_ttl_seconds,
        )
        # Services whose case streams are served by fan-out from their case-change feed (`live_event` routes).
        self.feeds = {service: CaseFeed(service.value, self.bases[service] + FEED_PATH,
                                        settings.internal_token.get_secret_value())
                      for service in FEED_SERVICES}
        self.breakers = {service: CircuitBreaker(service.value, failure_threshold=settings.circuit_failure_threshold,
                                                 open_seconds=settings.circuit_open_seconds)
                         for service in Upstream}
        # The gateway holds no queue of its own in front of a busy service: beyond its gate a request is answered
        # 503 at once, so a backlog of retries cannot pile up here and keep the service saturated.
        self.gates = {service: AdmissionGate(f"gateway-{service.value}", limit=settings.upstream_admission_limit,
                                             queue_limit=settings.upstream_admission_queue,
                                             wait_seconds=settings.upstream_admission_wait_seconds)
                      for service in Upstream}
        self.latency = {service: UPSTREAM_LATENCY.labels(service.value) for service in Upstream}
        self._feed_tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._stream_session: aiohttp.ClientSession | None = None
        connect = settings.upstream_connect_timeout
        total = settings.upstream_total_timeout
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=total)
        self._stream_timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=None)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Proxy.start() was not awaited")
        return self._session

    async def start(self) -> None:
        """Open the shared sessions: a bounded keep-alive pool per upstream host for requests, and an unbounded one
        for event streams, which hold their connection for as long as the client listens and would otherwise
        starve ordinary requests of pooled connections."""
        self._session = self._new_session(self.settings.upstream_pool_size, self._timeout)
        self._stream_session = self._new_session(0, self._stream_timeout)
        self._feed_tasks = [asyncio.create_task(feed.run(self._stream_session), name=f"{service}-case-feed")
                            for service, feed in self.feeds.items()]

    def _new_session(self, per_host: int, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=per_host,
            keepalive_timeout=self.settings.upstream_keepalive_seconds,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        for task in self._feed_tasks:
            task.cancel()
        await asyncio.gather(*self._feed_tasks, return_exceptions=True)
        self._feed_tasks = []
        for session in (self._session, self._stream_session):
            if session is not None:
                await session.close()
        self._session = self._stream_session = None

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI endpoint of an allow-listed request, whose route `gateway.main` found under PROXIED_ROUTE_SCOPE_KEY
        before FastAPI's routing: a problem is answered here as the application's problem handlers answer it."""
        request = Request(scope, receive)
        try:
            response = await self.relay(request, scope[PROXIED_ROUTE_SCOPE_KEY])
        except Problem as problem:
            response = problem_response(request, problem)
        except Exception:
            response = unhandled_error_response(request)
        await response(scope, receive, send)

    async def relay(self, request: Request, route: Route) -> Response:
        """Check the caller against `route` (token, audience, enterprise status) and relay the request."""
        request.scope[ROUTE_SCOPE_KEY] = route.template
        if route.audience != PUBLIC:
            principal = self.verifier.verify(bearer_token(request))
            if principal.aud != route.audience:
                raise Problem("forbidden", f"This endpoint is for the {route.audience} audience")
            # Enterprise tokens outlive a suspension, a revocation or a disabled portal account; the principal's
            # status is re-checked every few seconds.
            path = status_path(principal)
            if path is not None and not await self.clients.is_active(path):
                raise Problem("unauthenticated", "The credentials are revoked, disabled or suspended",
                              headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if route.live_event is not None:
            return await self._follow(request, route, route.live_event)
        body = await read_body(request, route.max_body_bytes or self.settings.max_body_bytes)
        return await self._forward(request, route, body)

    async def read_as_caller(self, request: Request, route: Route) -> Detail:
        """GET `route`'s path from its service with the caller's own headers (the service checks the token again and
        decides what the caller may read), through the service's circuit like any forwarded request."""
        target = URL(self.bases[route.service] + quote(route.template, safe=QUOTE_SAFE_PATH), encoded=True)
        headers = [(name, value) for name, value in self._upstream_headers(request) if name != "accept"]
        headers.append(("Accept", "application/json"))
        with self._upstream_failures(route):
            async with self._admitted(route):
                return await self._read_detail(route, target, headers, None)

    async def _follow(self, request: Request, route: Route, event: str) -> Response:
        """A live case stream served from the service's case-change feed (`gateway.live`): the detail is read with
        the client's own headers, so the service decides who may follow what; a refusal is answered as it came."""
        detail_path = request.scope["path"].removesuffix("/stream")
        target = URL(self.bases[route.service] + quote(detail_path, safe=QUOTE_SAFE_PATH), encoded=True)
        headers = [(name, value) for name, value in self._upstream_headers(request) if name != "accept"]
        headers.append(("Accept", "application/json"))
        with self._upstream_failures(route):
            async with self._admitted(route):
                first = await self._read_detail(route, target, headers, None)
        if first.status != 200:
            refused = Response(first.body, status_code=first.status)
            refused.raw_headers.extend(first.headers)
            return refused

        async def read_again(etag: str | None) -> Detail | None:
            try:
                return await self._read_detail(route, target, headers, etag)
            except (aiohttp.ClientError, TimeoutError):
                return None

        return EventStream(follow(self.feeds[route.service], detail_path.rsplit("/", 1)[-1], first, read_again,
                                  event), ping_seconds=STREAM_PING_SECONDS)

    async def _read_detail(self, route: Route, target: URL, headers: list[tuple[str, str]],
                           etag: str | None) -> Detail:
        conditional = [*headers, ("If-None-Match", etag)] if etag else headers
        started = time.perf_counter()
        async with asyncio.timeout(self.settings.upstream_total_timeout):
            async with self.session.get(target, headers=conditional, allow_redirects=False) as answer:
                self.latency[route.service].observe(time.perf_counter() - started)
                body = await answer.read()
        return Detail(status=answer.status, headers=_passed_on(answer.raw_headers), body=body,
                      etag=answer.headers.get("ETag"))

    def _upstream_headers(self, request: Request) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        connection_listed = host = None
        for raw_name, raw_value in request.scope["headers"]:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            if name not in DROPPED_REQUEST_HEADERS:
                headers.append((name, value))
            elif name == "connection" and connection_listed is None:
                connection_listed = value
            elif name == "host" and host is None:
                host = value
        if connection_listed:
            named = {token.strip().lower() for token in connection_listed.split(",")}
            headers = [(name, value) for name, value in headers if name not in named]
        request_id = request_id_var.get()
        correlation_id = correlation_id_var.get()
        if request_id:
            headers.append(("X-Request-Id", request_id))
        if correlation_id:
            headers.append(("X-Correlation-Id", correlation_id))
        headers.append(("X-Forwarded-For", client_address(request)))
        if host:
            headers.append(("X-Forwarded-Host", host))
        headers.append(("X-Forwarded-Proto", request.scope["scheme"]))
        trace_headers: dict[str, str] = {}
        inject_into(trace_headers)
        headers.extend(trace_headers.items())
        return headers

    async def _forward(self, request: Request, route: Route, body: bytes) -> Response:
        target = self.bases[route.service] + quote(request.scope["path"], safe=QUOTE_SAFE_PATH)
        query = request.scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        wants_stream = route.streaming or "text/event-stream" in request.headers.get("accept", "")
        started = time.perf_counter()
        upstream: aiohttp.ClientResponse | None = None
        try:
            with self._upstream_failures(route):
                async with (self._admitted(route, gated=not wants_stream),
                            asyncio.timeout(self.settings.upstream_total_timeout)):
                    session = self._stream_session if wants_stream and self._stream_session else self.session
                    upstream = await session.request(
                        request.method,
                        URL(target, encoded=True),
                        headers=self._upstream_headers(request),
                        data=body or None,
                        allow_redirects=False,
                        timeout=self._stream_timeout if wants_stream else self._timeout,
                    )
                    self.latency[route.service].observe(time.perf_counter() - started)
                    length = upstream.content_length
                    streamed = (
                        wants_stream
                        or upstream.content_type == "text/event-stream"
                        or length is None
                        or length > BUFFERED_RESPONSE_LIMIT
                    )
                    content = b"" if streamed else await upstream.read()
        except BaseException:
            self._release(upstream)
            raise
        headers = _passed_on(upstream.raw_headers)
        if streamed:
            return ChunkStream(_relay(upstream), status_code=upstream.status, raw_headers=headers)
        response = Response(content, status_code=upstream.status)
        response.raw_headers.extend(headers)
        return response

    @staticmethod
    def _release(upstream: aiohttp.ClientResponse | None) -> None:
        if upstream is not None:
            upstream.release()

    @asynccontextmanager
    async def _admitted(self, route: Route, *, gated: bool = True) -> AsyncIterator[None]:
        """A place under the service's gate for the exchange (event streams, which last, take none)."""
        if not gated:
            yield
            return
        gate = self.gates[route.service]
        try:
            await gate.enter()
        except AtCapacity as exc:
            raise Problem("at-capacity", f"The {route.service.value} service is at capacity; try again shortly",
                          service=route.service.value,
                          headers={"Retry-After": str(self.settings.upstream_admission_retry_after_seconds)}) from exc
        try:
            yield
        finally:
            gate.leave()

    @contextmanager
    def _upstream_failures(self, route: Route) -> Iterator[None]:
        """A failed exchange with the service becomes the 503 or 504 problem the client gets, and counts against
        the service's circuit; while the circuit is open the service is not asked at all."""
        breaker = self.breakers[route.service]
        retry_after = breaker.refusal()
        if retry_after is not None:
            UPSTREAM_FAILURES.labels(route.service.value, "circuit-open").inc()
            raise Problem("upstream-unavailable", f"The {route.service.value} service is failing; not asked again "
                          "until the circuit half-opens", service=route.service.value,
                          headers={"Retry-After": str(retry_after)})
        try:
            yield
        except aiohttp.ConnectionTimeoutError as exc:
            breaker.failed()
            raise self._failure(route, "connect-timeout", "upstream-unavailable") from exc
        except TimeoutError as exc:
            breaker.failed()
            raise self._failure(route, "timeout", "upstream-timeout") from exc
        except aiohttp.ClientError as exc:
            breaker.failed()
            raise self._failure(route, type(exc).__name__, "upstream-unavailable") from exc
        breaker.succeeded()

    @staticmethod
    def _failure(route: Route, reason: str, slug: str) -> Problem:
        UPSTREAM_FAILURES.labels(route.service.value, reason).inc()
        log.warning("upstream failed", service=route.service.value, reason=reason)
        # A service that cannot be reached is being restarted or is failing over: the client may try again soon.
        headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)} if slug == "upstream-unavailable" else None
        return Problem(slug, f"The {route.service.value} service did not answer", service=route.service.value,
                       headers=headers)


def _passed_on(raw_headers: tuple[tuple[bytes, bytes], ...]) -> list[tuple[bytes, bytes]]:
    """The service's response headers the client gets (names lowercased, as ASGI wants them)."""
    return [(name.lower(), value) for name, value in raw_headers
            if name.lower().decode("latin-1") not in DROPPED_RESPONSE_HEADERS]


async def _relay(upstream: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Pass each chunk on as it arrives (event streams must not be held back); the upstream connection goes back
    to its pool, or is closed, when the answer ends or the client leaves."""
    try:
        async for chunk in upstream.content.iter_any():
            yield chunk
    finally:
        upstream.release()
