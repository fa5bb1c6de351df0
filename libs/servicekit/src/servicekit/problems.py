"""RFC 9457 problem responses: one shape for every error, titles in zh-CN or English."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from servicekit.observability import get_logger

PROBLEM_CONTENT_TYPE = "application/problem+json"

# slug -> (status, English title, Chinese title)
CATALOG: dict[str, tuple[int, str, str]] = {
    "malformed-request": (400, "The request body is not valid JSON", "请求体不是合法的 JSON"),
    "validation-error": (422, "The request has invalid fields", "请求中有字段不合法"),
    "unauthenticated": (401, "A valid access token is required", "需要有效的访问令牌"),
    "forbidden": (403, "This token may not do that", "当前令牌无权执行此操作"),
    "not-found": (404, "No such resource", "资源不存在"),
    "method-not-allowed": (405, "Method not allowed", "不支持该请求方法"),
    "conflict": (409, "The resource is not in a state that allows this", "资源当前状态不允许此操作"),
    "idempotency-key-reused": (422, "This Idempotency-Key was used with a different body",
                               "该幂等键已用于不同的请求体"),
    "precondition-failed": (412, "Precondition failed", "前置条件不满足"),
    "payload-too-large": (413, "The request body is too large", "请求体过大"),
    "unsupported-media-type": (415, "Unsupported media type", "不支持的媒体类型"),
    "rate-limited": (429, "Too many requests", "请求过于频繁"),
    "upstream-unavailable": (503, "A service is unavailable, try again shortly", "服务暂不可用，请稍后重试"),
    "temporarily-unavailable": (503, "The service is temporarily unavailable, try again shortly",
                                "服务暂时不可用，请稍后重试"),
    "at-capacity": (503, "The service is at capacity, try again shortly", "服务繁忙，请稍后重试"),
    "upstream-timeout": (504, "A service did not answer in time", "服务响应超时"),
    "internal-error": (500, "Internal error", "内部错误"),
    # Staff sign-in (architecture §5, "Tokens"): the password was right, one more step is owed.
    "mfa-required": (403, "Enter the code from your authenticator app", "请输入身份验证器中的动态验证码"),
    "account-setup-required": (403, "Set a new password or bind an authenticator app before signing in",
                               "登录前须先修改密码或绑定身份验证器"),
}
_STATUS_TO_SLUG = {status: slug for slug, (status, _, _) in reversed(CATALOG.items())}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        slug: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or slug)
        self.slug = slug
        self.status = status or CATALOG[slug][0]
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extensions = extensions


def wants_chinese(accept_language: str | None) -> bool:
    if not accept_language:
        return False
    first = accept_language.split(",")[0].strip().lower()
    return first.startswith("zh")


def problem_body(slug: str, status: int, *, accept_language: str | None, detail: str | None = None,
                 instance: str | None = None, errors: list[dict[str, Any]] | None = None,
                 **extensions: Any) -> dict[str, Any]:
    _, english, chinese = CATALOG.get(slug, (status, slug, slug))
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": chinese if wants_chinese(accept_language) else english,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extensions)
    return body


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body = problem_body(problem.slug, problem.status, accept_language=request.headers.get("accept-language"),
                        detail=problem.detail, instance=request.url.path, errors=problem.errors,
                        **problem.extensions)
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_CONTENT_TYPE, headers=problem.headers)


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"],
            "code": error["type"],
        }
        for error in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app can produce leaves as application/problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc)
        if any(error["code"] == "json_invalid" for error in errors):
            return problem_response(request, Problem("malformed-request", "The body could not be parsed as JSON",
                                                     errors=errors))
        return problem_response(request, Problem("validation-error", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _STATUS_TO_SLUG.get(exc.status_code, "internal-error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(request, Problem(slug, detail, status=exc.status_code,
                                                 headers=dict(exc.headers or {})))

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        return unhandled_error_response(request)


def unhandled_error_response(request: Request) -> JSONResponse:
    """The 500 problem for an exception nothing else handled, logged with its traceback (call in `except`)."""
    get_logger("servicekit.problems").exception("unhandled error", path=request.url.path)
    return problem_response(request, Problem("internal-error"))


PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["type", "title", "status"],
    "description": "An RFC 9457 problem document; extensions (`service`, ...) may accompany the members below.",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}, "code": {"type": "string"}}}},
    },
}
_PROBLEM_REF = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}
# FastAPI's own 422 body, which the problem handlers never send: replaced wherever FastAPI declared it.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
MUTATING_METHODS = frozenset({"post", "put", "patch", "delete"})

DependencyT = TypeVar("DependencyT", bound=Callable[..., Any])
_RAISED_BY_DEPENDENCY: dict[Callable[..., Any], frozenset[int]] = {}


def raises(*statuses: int) -> Callable[[DependencyT], DependencyT]:
    """Marks a dependency as answering these problem statuses; every operation using it declares them."""

    def mark(dependency: DependencyT) -> DependencyT:
        _RAISED_BY_DEPENDENCY[dependency] = frozenset(statuses)
        return dependency

    return mark


def problem_response_object(status: int) -> dict[str, Any]:
    """The OpenAPI response declaring `status` as a problem document, described by its catalogue title."""
    slug = _STATUS_TO_SLUG.get(status)
    description = CATALOG[slug][1] if slug else f"Problem {status}"
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": dict(_PROBLEM_REF)}}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring each status as an application/problem+json document with its catalogue title.

    For statuses particular to an operation (a 404 on a path without ids, a 429); the ones every operation of its
    shape can return are declared for it by `declare_problem_responses`.
    """
    return {status: problem_response_object(status) for status in statuses}


def shape_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses an operation's shape implies: any operation may meet an outage (503); ids in the path
    may name nothing (404); parameters or a body may be invalid (422); a body may not parse (400); a change may
    meet a state or a uniqueness rule that refuses it (409)."""
    statuses = {503}
    if "{" in path:
        statuses.add(404)
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(400)
    if method in MUTATING_METHODS:
        statuses.add(409)
    return statuses


def add_problem_responses(operation: dict[str, Any], statuses: Iterable[int]) -> None:
    """Declares each status as a problem document; a status the operation already describes keeps its description
    and gets the problem body (FastAPI's validation body is replaced: the handlers answer those as problems)."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in sorted(statuses):
        declared = responses.get(str(status))
        if declared is None:
            responses[str(status)] = problem_response_object(status)
        elif PROBLEM_CONTENT_TYPE not in declared.get("content", {}):
            declared["content"] = problem_response_object(status)["content"]


@dataclass(frozen=True)
class DocumentedRoute:
    """An API route the OpenAPI document lists, as mounted (included routers' prefixes applied)."""

    path: str
    methods: frozenset[str]
    name: str
    dependant: Dependant | None


def schema_routes(routes: Iterable[BaseRoute]) -> list[DocumentedRoute]:
    documented = []
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        if isinstance(route, APIRoute) and context.include_in_schema:
            documented.append(DocumentedRoute(path=context.path_format or route.path_format,
                                              methods=frozenset(context.methods or route.methods or ()),
                                              name=context.name or route.name, dependant=context.dependant))
    return documented


def _dependency_statuses(dependant: Dependant) -> set[int]:
    statuses: set[int] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call is not None:
            statuses |= _RAISED_BY_DEPENDENCY.get(current.call, frozenset())
        pending.extend(current.dependencies)
    return statuses


def declare_problem_responses(document: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """Every operation of `document` declares the problems it can answer: those its shape implies and those its
    dependencies raise (a token check: 401 and 403), each as application/problem+json with the shared schema."""
    paths: dict[str, dict[str, Any]] = document.get("paths", {})
    for route in schema_routes(routes):
        item = paths.get(route.path)
        if item is None:
            continue
        raised = _dependency_statuses(route.dependant) if route.dependant is not None else set()
        for method in route.methods:
            operation = item.get(method.lower())
            if operation is not None:
                # A route naming an error status in its own words gets the problem body for it too.
                described = {int(status) for status in operation.get("responses", {}) if status[0] in "45"}
                add_problem_responses(operation,
                                      raised | described | shape_statuses(route.path, method.lower(), operation))
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
    if '"#/components/schemas/HTTPValidationError"' not in json.dumps(paths):
        for name in _FASTAPI_VALIDATION_SCHEMAS:
            schemas.pop(name, None)
    return document


def install_problem_documentation(app: FastAPI) -> None:
    """The app's OpenAPI document declares every operation's problem responses (`declare_problem_responses`)."""

    declared: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        # FastAPI builds the document again when routes were added since; each new build is declared once.
        document = FastAPI.openapi(app)
        if not declared or declared[0] is not document:
            declared[:] = [declare_problem_responses(document, app.routes)]
        return declared[0]

    app.openapi = openapi  # type: ignore[method-assign]
