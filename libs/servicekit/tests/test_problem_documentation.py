"""Every operation's OpenAPI entry declares the problems it can answer, each as application/problem+json."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from servicekit.auth import ConsumerPrincipal, Principal, require_internal
from servicekit.problems import (
    PROBLEM_CONTENT_TYPE,
    install_problem_documentation,
    install_problem_handlers,
    problem_responses,
    raises,
)


class Draft(BaseModel):
    text: str


@raises(429)
async def limited() -> None:
    """A dependency that refuses callers over their rate (never does here)."""


def documented_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_problem_documentation(app)
    router = APIRouter(prefix="/v1/consumer/things")

    @router.get("")
    async def list_things(principal: ConsumerPrincipal, page: int = 1) -> list[str]:
        return []

    @router.post("/{thing_id}/notes", status_code=201, dependencies=[Depends(limited)],
                 responses=problem_responses(409) | {422: {"description": "The note is empty"}})
    async def add_note(thing_id: uuid.UUID, body: Draft, principal: ConsumerPrincipal) -> Principal:
        return principal

    @router.get("/public", responses={410: {"description": "Gone for good"}})
    async def public_things() -> list[str]:
        return []

    @router.get("/internal", dependencies=[Depends(require_internal)])
    async def internal_things() -> list[str]:
        return []

    app.include_router(router)
    return app


def statuses(document: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    responses: dict[str, dict[str, Any]] = document["paths"][path][method]["responses"]
    return responses


def test_each_operation_declares_what_its_shape_and_dependencies_can_answer() -> None:
    document = documented_app().openapi()

    listed = statuses(document, "/v1/consumer/things", "get")
    assert set(listed) == {"200", "401", "403", "422", "503"}
    noted = statuses(document, "/v1/consumer/things/{thing_id}/notes", "post")
    assert set(noted) == {"201", "400", "401", "403", "404", "409", "422", "429", "503"}
    assert set(statuses(document, "/v1/consumer/things/public", "get")) == {"200", "410", "503"}
    assert set(statuses(document, "/v1/consumer/things/internal", "get")) == {"200", "403", "503"}


def test_problems_are_problem_documents_and_fastapi_validation_bodies_are_gone() -> None:
    document = documented_app().openapi()

    noted = statuses(document, "/v1/consumer/things/{thing_id}/notes", "post")
    for status, response in noted.items():
        if status.startswith("4") or status.startswith("5"):
            assert list(response["content"]) == [PROBLEM_CONTENT_TYPE], status
            assert response["content"][PROBLEM_CONTENT_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}
    # A route's own description of a status stays; only the body is the problem's.
    assert noted["422"]["description"] == "The note is empty"
    assert statuses(document, "/v1/consumer/things", "get")["422"]["content"].keys() == {PROBLEM_CONTENT_TYPE}
    gone = statuses(document, "/v1/consumer/things/public", "get")["410"]
    assert gone["description"] == "Gone for good"
    assert gone["content"].keys() == {PROBLEM_CONTENT_TYPE}
    schemas = document["components"]["schemas"]
    assert {"type", "title", "status"} <= set(schemas["Problem"]["required"])
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
