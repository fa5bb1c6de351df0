"""Ports handed to servers that start later: never one the machine's own outgoing connections may take first."""

from __future__ import annotations

import socket
from pathlib import Path

from servicekit.infra import free_port


def ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_free_ports_lie_below_the_outgoing_range_are_distinct_and_a_server_can_bind_them() -> None:
    ports = [free_port() for _ in range(6)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= port < ephemeral_low() for port in ports), ports
    for port in ports:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
            server.listen()


def test_a_port_something_listens_on_is_not_handed_out() -> None:
    taken = []
    try:
        # Occupy the ports just after the next one handed out, then ask again: it must skip them.
        first = free_port()
        for port in range(first + 1, min(first + 20, ephemeral_low())):
            server = socket.socket()
            try:
                server.bind(("127.0.0.1", port))
            except OSError:
                server.close()
                continue
            server.listen()
            taken.append(server)
        following = free_port()
        assert following not in {server.getsockname()[1] for server in taken}
        with socket.socket() as server:
            server.bind(("127.0.0.1", following))
    finally:
        for server in taken:
            server.close()
