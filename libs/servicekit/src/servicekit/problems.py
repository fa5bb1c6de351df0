"""RFC 9457 problem responses: one shape for every error, titles in zh-CN or English."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
        get_logger("servicekit.problems").exception("unhandled error", path=request.url.path)
        return problem_response(request, Problem("internal-error"))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring each status as an application/problem+json document with its catalogue title."""
    problem_schema = {"type": "object", "required": ["type", "title", "status"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}}}}
    return {status: {"description": CATALOG[_STATUS_TO_SLUG[status]][1],
                     "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_schema}}}
            for status in statuses}
