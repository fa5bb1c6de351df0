"""What the gateway does for every request at the edge, before routing: the real client address, the guard on
/metrics, security headers on every answer (architecture.md §6).

- **Client address.** The TCP peer, unless the peer is a trusted proxy (`ODR_TRUSTED_PROXIES`, addresses or CIDRs,
  none by default): then `X-Forwarded-For` is read from the right, skipping trusted proxies, and the first other
  address is the client (and `X-Forwarded-Proto` gives the scheme). A client can add whatever it likes to the left of
  the header; only what the trusted proxies appended counts. uvicorn's own proxy-header handling is off
  (`--no-proxy-headers`), so this is the one place that decides. Per-address limits (sign-in) key on this address.
- **/metrics** answers only a caller with the internal token (`X-Internal-Token`) or a TCP peer in
  `ODR_METRICS_ALLOWED_NETWORKS` (loopback by default; in a cluster, the scraper's network) that is not a trusted
  proxy (what the ingress relays is public traffic); anyone else gets 404, as for any path not served. The services'
  own /metrics are never in the allow-list, so never routed.
- **Headers** on every answer: `X-Content-Type-Options: nosniff`, `Content-Security-Policy: frame-ancestors 'none'`
  (unless the answer has its own policy), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`, and
  `Strict-Transport-Security` when the request came over TLS (directly or per a trusted proxy).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.problems import Problem, problem_response

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

HSTS = "max-age=31536000; includeSubDomains"
BASE_HEADERS: dict[str, str] = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
FRAME_ANCESTORS = "frame-ancestors 'none'"


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDRs as networks (an address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _within(address: str, among: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in among)


def forwarded_client(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer itself unless it is a trusted proxy, then the right-most address of
    X-Forwarded-For that is not a trusted proxy (the left-most when all are)."""
    if not forwarded_for or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop
    return hops[0] if hops else peer


_BASE_HEADERS = tuple((name.encode(), value.encode()) for name, value in BASE_HEADERS.items())
_FRAME_ANCESTORS = (b"content-security-policy", FRAME_ANCESTORS.encode())
_HSTS = (b"strict-transport-security", HSTS.encode())


def with_security_headers(headers: Iterable[tuple[bytes, bytes]], secure: bool) -> list[tuple[bytes, bytes]]:
    """An answer's headers with the security headers it does not set itself."""
    answer = list(headers)
    present = {name.lower() for name, _ in answer}
    answer.extend(header for header in _BASE_HEADERS if header[0] not in present)
    if b"content-security-policy" not in present:
        answer.append(_FRAME_ANCESTORS)
    if secure:
        answer.append(_HSTS)
    return answer


class EdgeMiddleware:
    """Rewrites the scope's client to the real client, guards /metrics and adds the security headers."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str], metrics_networks: Iterable[str],
                 internal_token: str) -> None:
        self.app = app
        self.trusted = networks(trusted_proxies)
        self.metrics_networks = networks(metrics_networks)
        self.internal_token = internal_token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer_host, peer_port = scope.get("client") or ("", 0)
        via_proxy = bool(self.trusted) and _within(peer_host, self.trusted)
        # Headers are decoded only where they decide something: behind a trusted proxy and for /metrics.
        headers: dict[str, str] = {}
        if via_proxy or scope["path"] == "/metrics":
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        if via_proxy:
            scope = dict(scope)
            scope["client"] = (forwarded_client(peer_host, headers.get("x-forwarded-for"), self.trusted), peer_port)
            proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
        secure = scope.get("scheme") in ("https", "wss")
        app = self.app
        scrape = scope["type"] == "http" and scope["path"] == "/metrics"
        if scrape and not self._may_scrape(peer_host, headers, via_proxy):
            app = problem_response(Request(scope), Problem("not-found", "Not found"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": with_security_headers(message.get("headers", []), secure)}
            await send(message)

        await app(scope, receive, send_with_headers)

    def _may_scrape(self, peer: str, headers: dict[str, Any], via_proxy: bool) -> bool:
        """The internal token, or a peer of the scrapers' network that is not the ingress relaying a client."""
        token = headers.get("x-internal-token", "").encode("latin-1")
        if token and hmac.compare_digest(token, self.internal_token):
            return True
        return not via_proxy and _within(peer, self.metrics_networks)
