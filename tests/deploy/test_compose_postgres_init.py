"""deploy/compose/postgres-init.sh, the script the compose PostgreSQL runs on its first start, run as written against a
PostgreSQL of its own (roles are server-wide, so not the shared one): each service gets a login role and a database
only it may enter, and logs in with a password of any characters the way servicekit builds its connection."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from servicekit import infra
from servicekit.db import asyncpg_dsn
from servicekit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("complaints", "merchants", "mediation")
# Characters that mean something in a URL, in SQL and to the shell.
PASSWORDS = {"complaints": "p@ss:w/rd%#?", "merchants": "it's \"quoted\" $HOME", "mediation": "简单 密码;--"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = infra.free_port()
    data_dir = tmp_path_factory.mktemp("compose-postgres") / "data"
    process = infra.start_postgres(data_dir, port)
    try:
        psql = infra._embedded_bin("psql")
        environment = {"PATH": f"{psql.parent}:{os.environ.get('PATH', '')}", "PGHOST": "127.0.0.1",
                       "PGPORT": str(port), "POSTGRES_USER": "postgres",
                       **{f"{service.upper()}_DB_PASSWORD": password for service, password in PASSWORDS.items()}}
        subprocess.run(["sh", str(ROOT / "deploy" / "compose" / "postgres-init.sh")], env=environment, check=True,
                       capture_output=True, timeout=60)
        # As in the image: the superuser on trust locally, everyone else by password (SCRAM) over TCP.
        (data_dir / "pg_hba.conf").write_text("local all all trust\nhost all postgres 127.0.0.1/32 trust\n"
                                              "host all all 127.0.0.1/32 scram-sha-256\n")
        subprocess.run([str(psql), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-c",
                        "SELECT pg_reload_conf()"], check=True, capture_output=True, timeout=30)
        yield port
    finally:
        process.stop()


def service_dsn(port: int, service: str, database: str, password: str) -> str:
    """The DSN servicekit connects with, from the settings compose gives the service (password outside the URL)."""
    settings = ServiceSettings(database_url=f"postgresql+asyncpg://{service}@127.0.0.1:{port}/{database}",
                               database_password=password)
    return asyncpg_dsn(settings.sqlalchemy_url)


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_logs_into_its_own_database_as_its_own_role(server: int, service: str) -> None:
    connection = await asyncpg.connect(service_dsn(server, service, f"odr_{service}", PASSWORDS[service]))
    try:
        who = await connection.fetchrow(
            "SELECT current_user, pg_get_userbyid(datdba) AS owner, rolsuper FROM pg_database, pg_roles "
            "WHERE datname = current_database() AND rolname = current_user")
    finally:
        await connection.close()

    assert (who["current_user"], who["owner"], who["rolsuper"]) == (service, service, False)


async def test_a_wrong_password_and_another_service_s_database_are_refused(server: int) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(service_dsn(server, "complaints", "odr_complaints", "p@ss:w/rd%#"))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(service_dsn(server, "merchants", "odr_complaints", PASSWORDS["merchants"]))
