"""The public API keeps the promises of its OpenAPI document (issue 14 item 7): schemathesis generates requests for
every operation of the gateway's merged document, as each audience that may call it, and checks every answer.

Checks: no 5xx (not_a_server_error), every status declared (status_code_conformance), the declared content type
(content_type_conformance), the declared body shape (response_schema_conformance), and a secured operation that
answered 2xx refusing the same request without or with a broken token (ignored_auth).

Callers: anonymous (the public operations), a consumer, an enterprise's API client and its portal admin, a
regulator, a mediator and a service station's staff member. The consumer and the three staff members are made here,
so whatever the generated requests change belongs to them; the enterprise callers are demo enterprise B's, whose
credentials and webhook other tests sign in with and deliver to: the two operations replacing those are left out.
Generated path ids are random UUIDs, so requests naming a resource meet nothing the other tests made.

Bounds: a fixed number of examples per operation (positive and negative data, derandomized so a run is
reproducible), no shrinking, and a per-request timeout: the seven runs took 98 s together with two cores at a
load average above 20.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from odr_runner.stack import GATEWAY, Stack

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          ignored_auth]
EXAMPLES_PER_OPERATION = 3
REQUEST_TIMEOUT_SECONDS = 15.0
# Replaced only at the cost of every later test signing in as demo enterprise B or receiving its webhooks.
SHARED_STATE_OPERATIONS = {("post", "/v1/merchant/credentials/rotate"), ("put", "/v1/merchant/webhook")}
# Global settings the outcome-audit tests rely on; a regulator of this test's own making could still rewrite them.
SHARED_STATE_OPERATIONS |= {("put", "/v1/regulator/audit/thresholds")}
EXAMPLES_PER_ROLE_LIMITED_OPERATION = 1
EXAMPLE_SETTINGS = hypothesis.settings(
    deadline=None,
    derandomize=True,
    database=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck),
)


@dataclass(frozen=True)
class Caller:
    name: str
    tags: tuple[str, ...]
    token: str | None
    # The mediator and the station staff share the regulators' operations but are refused most of them by role:
    # fewer examples there keep the module within its time.
    examples: int = EXAMPLES_PER_OPERATION


async def sign_in(gateway: httpx.AsyncClient, form: dict[str, str]) -> httpx.Response:
    return await gateway.post("/auth/token", data=form)


async def token_of(gateway: httpx.AsyncClient, form: dict[str, str]) -> str:
    answer = await sign_in(gateway, form)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def new_staff_member(gateway: httpx.AsyncClient, demo: dict[str, Any], role: str) -> str:
    """A Golmud staff member of `role` made by the demo staff administrator, signed in after the forced change."""
    admin = demo["staff_admin"]
    admin_token = await token_of(gateway, {"grant_type": "password", "username": admin["username"],
                                           "password": admin["password"]})
    username = f"fuzz-{role}-{secrets.token_hex(3)}"
    created = await gateway.post("/v1/regulator/staff", headers={"Authorization": f"Bearer {admin_token}"}, json={
        "username": username, "display_name": "模糊测试", "role": role, "region_code": "632801"})
    assert created.status_code == 201, created.text
    setup = await sign_in(gateway, {"grant_type": "password", "username": username,
                                    "password": created.json()["temporary_password"]})
    assert setup.status_code == 403, setup.text
    password = f"Golmud-{role}-{secrets.token_hex(4)}"
    changed = await gateway.post("/v1/regulator/staff/me/password", json={
        "current_password": created.json()["temporary_password"], "new_password": password},
        headers={"Authorization": f"Bearer {setup.json()['setup_token']}"})
    assert changed.status_code == 204, changed.text
    return await token_of(gateway, {"grant_type": "password", "username": username, "password": password})


async def new_station_staff(gateway: httpx.AsyncClient, regulator: str) -> str:
    headers = {"Authorization": f"Bearer {regulator}"}
    station = await gateway.post("/v1/regulator/stations", headers=headers, json={
        "name": "模糊测试服务站", "host_name": "格尔木河西市场", "region_code": "632801",
        "address": "青海省格尔木市河西路1号", "phone": "0979-8410001"})
    assert station.status_code == 201, station.text
    username = f"fuzz-station-{secrets.token_hex(3)}"
    password = f"Hexi-station-{secrets.token_hex(4)}"
    staff = await gateway.post(f"/v1/regulator/stations/{station.json()['id']}/staff", headers=headers, json={
        "username": username, "password": password, "display_name": "服务站 模糊测试"})
    assert staff.status_code == 201, staff.text
    return await token_of(gateway, {"grant_type": "password", "username": username, "password": password})


async def new_consumer(gateway: httpx.AsyncClient) -> str:
    phone = f"139{secrets.randbelow(10**8):08d}"
    code = (await gateway.post("/auth/otp", json={"phone": phone})).json()["dev_code"]
    return await token_of(gateway, {"grant_type": "otp", "phone": phone, "code": code})


CALLER_NAMES = ["anonymous", "consumer", "enterprise client", "enterprise portal user", "regulator", "mediator",
                "station staff"]


@pytest.fixture(scope="module")
async def callers(gateway: httpx.AsyncClient, demo: dict[str, Any]) -> dict[str, Caller]:
    enterprise = demo["merchants"][1]
    regulator = await new_staff_member(gateway, demo, "regulator")
    made = [
        Caller("anonymous", ("public", "auth"), None),
        Caller("consumer", ("consumer",), await new_consumer(gateway)),
        Caller("enterprise client", ("merchant",), await token_of(gateway, {
            "grant_type": "client_credentials", "client_id": enterprise["client_id"],
            "client_secret": enterprise["client_secret"]})),
        Caller("enterprise portal user", ("merchant",), await token_of(gateway, {
            "grant_type": "password", "username": enterprise["portal_username"],
            "password": enterprise["portal_password"]})),
        Caller("regulator", ("regulator",), regulator),
        Caller("mediator", ("regulator",), await new_staff_member(gateway, demo, "mediator"),
               EXAMPLES_PER_ROLE_LIMITED_OPERATION),
        Caller("station staff", ("regulator",), await new_station_staff(gateway, regulator),
               EXAMPLES_PER_ROLE_LIMITED_OPERATION),
    ]
    return {caller.name: caller for caller in made}


@pytest.fixture(scope="module")
async def api_document(gateway: httpx.AsyncClient) -> dict[str, Any]:
    answer = await gateway.get("/openapi.json")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    assert "x-unavailable-services" not in document, document["x-unavailable-services"]
    return document


def operations_tagged(document: dict[str, Any], tags: tuple[str, ...]) -> dict[str, Any]:
    """The document reduced to the operations of one audience (the gateway tags each with it)."""
    reduced = copy.deepcopy(document)
    reduced["paths"] = {}
    for path, item in document["paths"].items():
        kept = {method: operation for method, operation in item.items()
                if isinstance(operation, dict) and set(tags) & set(operation.get("tags", []))
                and (method, path) not in SHARED_STATE_OPERATIONS}
        if kept:
            reduced["paths"][path] = {**({"parameters": item["parameters"]} if "parameters" in item else {}),
                                      **kept}
    return reduced


def fuzz(document: dict[str, Any], base_url: str, token: str | None, examples: int) -> list[str]:
    """Every operation of `document` called with generated data; the failures found, one per operation."""
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with requests.Session() as session:
        return [failure for result in schema.get_all_operations()
                if (failure := fuzz_operation(result.ok(), base_url, session, headers, examples))]


def fuzz_operation(operation: schemathesis.APIOperation, base_url: str, session: requests.Session,
                   headers: dict[str, str], examples: int) -> str | None:
    """What broke the operation's documented promises, if anything did."""
    strategy = st.one_of(operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
                         operation.as_strategy(schemathesis.GenerationMode.NEGATIVE))

    @hypothesis.settings(EXAMPLE_SETTINGS, max_examples=examples)
    @hypothesis.given(case=strategy)
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS,
                               timeout=REQUEST_TIMEOUT_SECONDS)

    try:
        answers_as_documented()
    # Check failures come as a FailureGroup (a BaseExceptionGroup); errors such as a timeout as themselves.
    except (FailureGroup, Exception) as exc:
        return f"{operation.label}: {exc}"
    return None


@pytest.mark.parametrize("caller_name", CALLER_NAMES)
async def test_every_operation_answers_as_documented(caller_name: str, callers: dict[str, Caller],
                                                     api_document: dict[str, Any], e2e_stack: Stack) -> None:
    caller = callers[caller_name]
    document = operations_tagged(api_document, caller.tags)
    assert document["paths"], f"no operation is tagged {caller.tags}"
    failures = await asyncio.to_thread(fuzz, document, e2e_stack.url(GATEWAY), caller.token, caller.examples)
    assert not failures, f"{len(failures)} operations broke their documented promises:\n\n" + "\n\n".join(failures)
