"""deploy/k8s: every process is deployed safely, gets every setting it refuses to start without in production (and no
secret it has no use for), and the Kafka topics match the ones the code creates."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from complaints.settings import ComplaintsSettings
from gateway.settings import GatewaySettings
from mediation.settings import MediationSettings
from merchants.settings import MerchantsSettings
from servicekit.events.topics import all_topics

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
PROCESSES: dict[str, type[BaseModel]] = {"complaints": ComplaintsSettings, "merchants": MerchantsSettings,
                                         "mediation": MediationSettings, "gateway": GatewaySettings}
# A value of the right shape for every secret, so settings validation judges presence, not content.
SAMPLE_SECRETS = {"ODR_DATABASE_URL": "postgresql+asyncpg://odr:pw@db:5432/postgres"}


def documents(path: Path) -> Iterator[dict[str, Any]]:
    yield from (document for document in yaml.safe_load_all(path.read_text()) if document)


def manifests(name: str) -> dict[str, dict[str, Any]]:
    """kind -> the one object of that kind in deploy/k8s/<name>.yaml."""
    found: dict[str, dict[str, Any]] = {}
    for document in documents(K8S / f"{name}.yaml"):
        assert document["kind"] not in found, f"two {document['kind']}s in {name}.yaml"
        found[document["kind"]] = document
    return found


def secret_keys(secret: str) -> list[str]:
    lines = (K8S / "secrets" / f"{secret}.env.example").read_text().splitlines()
    return [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]


def environment_of(container: dict[str, Any]) -> dict[str, str]:
    """What the container's process sees: the ConfigMap, its Secrets (sample values) and its own env."""
    config = next(documents(K8S / "config.yaml"))["data"]
    environment: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            assert source["configMapRef"]["name"] == "odr-config"
            environment.update(config)
        else:
            environment.update({key: SAMPLE_SECRETS.get(key, f"sample-{key.lower()}")
                                for key in secret_keys(source["secretRef"]["name"])})
    environment.update({item["name"]: item["value"] for item in container["env"]})
    return environment


def test_the_kustomization_lists_every_manifest_and_each_parses() -> None:
    kustomization = next(documents(K8S / "kustomization.yaml"))
    assert sorted(kustomization["resources"]) == sorted(path.name for path in K8S.glob("*.yaml")
                                                        if path.name != "kustomization.yaml")
    assert {image["name"] for image in kustomization["images"]} == {f"odr-{name}" for name in PROCESSES}


@pytest.mark.parametrize("name", PROCESSES)
def test_each_process_runs_non_root_with_probes_limits_and_a_budget(name: str) -> None:
    objects = manifests(name)
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= set(objects)
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"] + pod.get("initContainers", []):
        assert container["image"] == f"odr-{name}"
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                 "capabilities": {"drop": ["ALL"]}}
        assert container["resources"]["limits"]["memory"]
    [main] = pod["containers"]
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == name
    selector = objects["Deployment"]["spec"]["selector"]["matchLabels"]
    assert objects["Service"]["spec"]["selector"] == selector
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    mounted = {mount["name"] for mount in main["volumeMounts"]}
    assert mounted == {volume["name"] for volume in pod["volumes"]}


@pytest.mark.parametrize("name", PROCESSES)
def test_each_process_has_every_production_setting_it_needs(name: str) -> None:
    pod = manifests(name)["Deployment"]["spec"]["template"]["spec"]
    for container in pod["containers"] + pod.get("initContainers", []):
        environment = environment_of(container)
        assert environment["ODR_ENVIRONMENT"] == "prod"
        assert environment["ODR_SERVICE_NAME"] == name
        with mock.patch.dict(os.environ, environment, clear=True):
            try:
                PROCESSES[name]()
            except ValidationError as error:
                pytest.fail(f"{name}/{container['name']} would not start in production: {error}")


def test_only_the_services_hold_the_database_and_personal_data_keys_and_only_the_gateway_signs() -> None:
    for name in PROCESSES:
        [container] = manifests(name)["Deployment"]["spec"]["template"]["spec"]["containers"]
        keys = set(environment_of(container))
        if name == "gateway":
            assert not keys & {"ODR_DATABASE_URL", "ODR_PII_KEY", "ODR_EVIDENCE_S3_SECRET_KEY"}
            assert {"ODR_JWT_PRIVATE_KEY", "ODR_OTP_SECRET"} <= keys
        else:
            assert not keys & {"ODR_JWT_PRIVATE_KEY", "ODR_OTP_SECRET"}
            assert {"ODR_DATABASE_URL", "ODR_PII_KEY"} <= keys


def test_each_service_database_is_the_one_its_settings_name() -> None:
    for name, settings in PROCESSES.items():
        if name == "gateway":
            continue
        [container] = manifests(name)["Deployment"]["spec"]["template"]["spec"]["containers"]
        assert environment_of(container)["ODR_DATABASE_NAME"] == settings.model_fields["database_name"].default


def test_the_strimzi_topics_are_the_topics_the_code_creates() -> None:
    topics = {document["spec"]["topicName"]: document["spec"]["partitions"]
              for document in documents(K8S / "kafka" / "topics.yaml")}
    assert topics == all_topics()
