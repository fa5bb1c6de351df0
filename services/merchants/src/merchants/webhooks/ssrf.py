"""Outbound webhook targets must be public: private, loopback, link-local, multicast and reserved are refused.

The host is resolved and every address it resolves to is checked, both when the endpoint is configured and
before each delivery (a name may be re-pointed later). Addresses in the allow-list setting pass all the same.
A delivery then connects to the address that was checked (`pinned`), so a second lookup cannot be steered
elsewhere (DNS rebinding); the Host header and TLS server name stay those of the URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
RESOLVE_TIMEOUT = 5.0


class UnsafeTarget(ValueError):
    """The URL may not be called: malformed, unresolvable, or pointing at a non-public address."""


def parse_networks(entries: Sequence[str]) -> tuple[IPNetwork, ...]:
    """The allow-list setting as networks (a bare address is a network of one)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_public(address: IPAddress) -> bool:
    """True for globally routable unicast addresses (IPv4-mapped IPv6 is judged as the IPv4 it carries)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_link_local
                                      or address.is_loopback or address.is_private or address.is_unspecified)


def _allowed(address: IPAddress, allowed: tuple[IPNetwork, ...]) -> bool:
    return is_public(address) or any(address in network for network in allowed)


def split_target(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL without credentials, or UnsafeTarget."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("the URL must be http or https")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL may not carry credentials")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget("the URL's port is not valid") from exc
    return parts.hostname, port


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal address resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        raise UnsafeTarget(f"the host {host!r} does not resolve") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_target(url: str, allowed: tuple[IPNetwork, ...]) -> list[IPAddress]:
    """The addresses of the URL's host; UnsafeTarget unless every one is public or allow-listed."""
    host, port = split_target(url)
    addresses = await resolve(host, port)
    if not addresses:
        raise UnsafeTarget(f"the host {host!r} does not resolve")
    if blocked := sorted({str(address) for address in addresses if not _allowed(address, allowed)}):
        raise UnsafeTarget(f"the host {host!r} resolves to non-public addresses: {', '.join(blocked)}")
    return addresses


def pinned(url: str, address: IPAddress) -> tuple[str, dict[str, str], str | None]:
    """(URL naming `address` instead of the host, headers, the TLS server name to send and verify the certificate
    against, for https) for a request to that address."""
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    server_hostname = parts.hostname or "" if parts.scheme == "https" else None
    return (urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
            {"Host": parts.netloc.rpartition("@")[2]}, server_hostname)
