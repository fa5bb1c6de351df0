"""The merged OpenAPI: only allow-listed operations of each service, plus the gateway's own, tagged by audience."""

from typing import Any

import httpx

from gateway.openapi import merge, upstream_selector
from gateway.routes import PUBLIC, Route, Upstream
from servicekit.auth import Audience
from servicekit.problems import PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in all_refs(item)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


async def test_the_document_merges_the_services_and_drops_what_is_not_allow_listed(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]

    assert paths["/v1/consumer/complaints"]["post"]["tags"] == ["consumer"]
    assert paths["/v1/consumer/complaints/{complaint_id}"]["get"]["tags"] == ["consumer"]
    assert paths["/v1/consumer/complaints/{complaint_id}"]["get"]["security"] == [{"bearer": []}]
    assert paths["/v1/merchant/cases"]["get"]["tags"] == ["merchant"]
    assert paths["/v1/merchant/cases/{case_id}/offers"]["post"]["tags"] == ["merchant"]
    assert paths["/v1/public/odr-applications"]["post"]["tags"] == ["public"]
    assert "security" not in paths["/v1/public/odr-applications"]["post"]
    assert paths["/auth/token"]["post"]["tags"] == ["auth"]
    assert paths["/auth/otp"]["post"]["tags"] == ["auth"]
    assert "/.well-known/jwks.json" in paths

    for hidden in ("/v1/consumer/secret-admin", "/internal/v1/complaints/{complaint_id}",
                   "/internal/v1/credentials/verify", "/readyz", "/healthz"):
        assert hidden not in paths
    assert "x-unavailable-services" not in document

    refs = all_refs(document)
    assert "#/components/schemas/Draft" in refs
    for ref in refs:
        resolve(document, ref)
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values() if isinstance(op, dict)]
    assert len(operation_ids) == len(set(operation_ids))


async def test_docs_serve_swagger_ui_for_the_merged_document(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


def test_clashing_component_names_are_kept_apart() -> None:
    def spec(path: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "paths": {path: {"get": {"operationId": "read", "responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Item"}}}}}}}},
            "components": {"schemas": {
                "Item": {"type": "object", "properties": {"inner": {"$ref": "#/components/schemas/Inner"}}},
                "Inner": {"type": "object", "properties": fields},
                "Unused": {"type": "string"},
            }},
        }

    routes = [
        Route(Audience.CONSUMER, "GET", "/v1/consumer/complaints/{id}", Upstream.COMPLAINTS),
        Route(Audience.MERCHANT, "GET", "/v1/merchant/cases/{id}", Upstream.MEDIATION),
    ]
    document = merge(
        [
            ("complaints", spec("/v1/consumer/complaints/{complaint_id}", {"a": {"type": "string"}}),
             upstream_selector(Upstream.COMPLAINTS, routes)),
            ("mediation", spec("/v1/merchant/cases/{case_id}", {"b": {"type": "integer"}}),
             upstream_selector(Upstream.MEDIATION, routes)),
        ],
        title="t",
    )
    schemas = document["components"]["schemas"]
    assert set(schemas) == {"Item", "Inner", "mediation_Item", "mediation_Inner", "Problem"}
    case = document["paths"]["/v1/merchant/cases/{case_id}"]["get"]
    assert set(all_refs(case)) == {"#/components/schemas/mediation_Item", "#/components/schemas/Problem"}
    assert all_refs(schemas["mediation_Item"]) == ["#/components/schemas/mediation_Inner"]
    assert schemas["mediation_Inner"]["properties"] == {"b": {"type": "integer"}}
    assert case["operationId"] == "mediation_read"


def test_operations_declare_what_the_gateway_itself_answers() -> None:
    spec = {"paths": {
        "/v1/public/regions": {"get": {"operationId": "regions", "responses": {"200": {"description": "ok"}}}},
        "/v1/consumer/complaints/{complaint_id}/withdraw": {"post": {
            "operationId": "withdraw", "requestBody": {"content": {"application/json": {"schema": {}}}},
            "responses": {"200": {"description": "ok"}, "409": {"description": "Not withdrawable now"}}}},
    }}
    routes = [Route(PUBLIC, "GET", "/v1/public/regions", Upstream.COMPLAINTS),
              Route(Audience.CONSUMER, "POST", "/v1/consumer/complaints/{id}/withdraw", Upstream.COMPLAINTS)]
    document = merge([("complaints", spec, upstream_selector(Upstream.COMPLAINTS, routes))], title="t")

    public = document["paths"]["/v1/public/regions"]["get"]["responses"]
    assert set(public) == {"200", "503", "504"}
    withdraw = document["paths"]["/v1/consumer/complaints/{complaint_id}/withdraw"]["post"]["responses"]
    assert set(withdraw) == {"200", "400", "401", "403", "404", "409", "413", "503", "504"}
    assert withdraw["409"]["description"] == "Not withdrawable now"
    problem = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for status in ("401", "403", "404", "413", "503", "504"):
        assert withdraw[status]["content"] == problem, status
    assert document["components"]["schemas"]["Problem"] == PROBLEM_SCHEMA
