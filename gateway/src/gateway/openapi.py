"""One OpenAPI document for the public surface: each service's allow-listed operations plus the gateway's own."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from gateway.routes import PUBLIC, Route, RouteTable, Upstream
from gateway.settings import GatewaySettings
from servicekit.observability import get_logger
from servicekit.problems import PROBLEM_SCHEMA, PROBLEM_SCHEMA_NAME, add_problem_responses

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
OPENAPI_FETCH_TIMEOUT = 2.0
# A service that did not answer is asked again sooner than the cache lifetime, but not on every request.
FAILED_FETCH_RETRY_SECONDS = 5.0
REF_PREFIX = "#/components/"
BEARER_SCHEME = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
TAGS = [
    {"name": "auth", "description": "Tokens: one-time codes for consumers, credentials for staff and enterprises"},
    {"name": "consumer", "description": "Consumers: complaints, reports, negotiation"},
    {"name": "merchant", "description": "ODR enterprises: cases, offers, webhooks"},
    {"name": "regulator", "description": "Market regulators: acceptance, mediation, statistics, audit"},
    {"name": "public", "description": "No token needed"},
]

# (tag, needs a bearer token) for an operation to keep, or None to drop it.
Selector = Callable[[str, str], tuple[str, bool] | None]

log = get_logger("gateway.openapi")


def _shape(template: str) -> str:
    """A path with its parameter names erased: services may name `{id}` as `{complaint_id}`."""
    return re.sub(r"\{[^}]*\}", "{}", template)


def upstream_selector(service: Upstream, routes: list[Route]) -> Selector:
    allowed = {(route.method.lower(), _shape(route.template)): route for route in routes if route.service == service}

    def select(method: str, path: str) -> tuple[str, bool] | None:
        route = allowed.get((method, _shape(path)))
        if route is None:
            return None
        return str(route.audience), route.audience != PUBLIC

    return select


def edge_statuses(path: str, operation: dict[str, Any], *, secured: bool) -> set[int]:
    """What the gateway itself may answer for a proxied operation: no token or a bad one (401), another audience's
    token (403), a path id it refuses to forward (404), a body over its limit (413) or with a malformed length
    (400), the service unreachable (503) or too slow (504)."""
    statuses = {503, 504}
    if secured:
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413}
    return statuses


def _refs(node: Any) -> set[tuple[str, str]]:
    """Every `#/components/<kind>/<name>` reference inside a JSON value."""
    found: set[tuple[str, str]] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF_PREFIX):
                kind, _, name = ref.removeprefix(REF_PREFIX).partition("/")
                found.add((kind, name))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _rewrite_refs(node: Any, renamed: dict[tuple[str, str], str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            kind, _, name = ref.removeprefix(REF_PREFIX).partition("/")
            if (kind, name) in renamed:
                return {**node, "$ref": f"{REF_PREFIX}{kind}/{renamed[(kind, name)]}"}
        return {key: _rewrite_refs(value, renamed) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(item, renamed) for item in node]
    return node


def _clashes(needed: set[tuple[str, str]], source: dict[str, Any], merged: dict[str, dict[str, Any]],
             service: str) -> dict[tuple[str, str], str]:
    """New names for components that differ from a same-named one already merged, or refer to one that does."""
    renamed: dict[tuple[str, str], str] = {}
    changed = True
    while changed:
        changed = False
        for kind, name in needed - renamed.keys():
            existing = merged.get(kind, {}).get(name)
            # A reference the service's spec does not define is one the gateway added (the Problem schema).
            own = source.get(kind, {}).get(name)
            if existing is not None and own is not None and existing != _rewrite_refs(own, renamed):
                renamed[(kind, name)] = f"{service}_{name}"
                changed = True
    return renamed


def merge(parts: list[tuple[str, dict[str, Any], Selector]], *, title: str) -> dict[str, Any]:
    """Merge the selected operations of several specs; clashing component names get the service as prefix."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {}
    for service, spec, select in parts:
        kept: dict[str, dict[str, Any]] = {}
        for path, item in spec.get("paths", {}).items():
            for method, operation in item.items():
                choice = select(method, path) if method in HTTP_METHODS else None
                if choice is None:
                    continue
                tag, secured = choice
                operation = {**copy.deepcopy(operation), "tags": [tag]}
                operation["operationId"] = f"{service}_{operation.get('operationId', method + path)}"
                if secured:
                    operation["security"] = [{"bearer": []}]
                add_problem_responses(operation, edge_statuses(path, operation, secured=secured))
                kept.setdefault(path, {})[method] = operation
            if path in kept and "parameters" in item:
                kept[path]["parameters"] = copy.deepcopy(item["parameters"])
        source = spec.get("components", {})
        needed = _refs(kept)
        pending = list(needed)
        while pending:
            kind, name = pending.pop()
            for ref in _refs(source.get(kind, {}).get(name)) - needed:
                needed.add(ref)
                pending.append(ref)
        renamed = _clashes(needed, source, components, service)
        for kind, name in needed:
            if name in source.get(kind, {}):
                target_name = renamed.get((kind, name), name)
                components.setdefault(kind, {})[target_name] = _rewrite_refs(source[kind][name], renamed)
        for path, methods in _rewrite_refs(kept, renamed).items():
            paths.setdefault(path, {}).update(methods)
    components.setdefault("securitySchemes", {}).update(BEARER_SCHEME)
    # The problems the gateway itself declares refer to the shared schema, whether or not a service spec brought it.
    components.setdefault("schemas", {}).setdefault(PROBLEM_SCHEMA_NAME, PROBLEM_SCHEMA)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0"},
        "tags": TAGS,
        "paths": dict(sorted(paths.items())),
        "components": components,
    }


def _gateway_selector(method: str, path: str) -> tuple[str, bool]:
    """The gateway's own operations: token endpoints, and consumer operations it composes from the services."""
    return ("consumer", True) if path.startswith("/v1/consumer/") else ("auth", False)


class MergedOpenApi:
    """Fetches each service's spec (short timeout, cached), keeping the last good copy when a service is down."""

    def __init__(self, settings: GatewaySettings, table: RouteTable) -> None:
        self.settings = settings
        self.table = table
        self.bases = settings.upstream_bases()
        self._cached: dict[Upstream, dict[str, Any]] = {}
        self._next_fetch: dict[Upstream, float] = {}
        self._lock = asyncio.Lock()

    async def document(self, client: httpx.AsyncClient, gateway_spec: dict[str, Any]) -> dict[str, Any]:
        """The merged document; services that never answered are listed under `x-unavailable-services`."""
        async with self._lock:
            now = time.monotonic()
            due = [service for service in Upstream if self._next_fetch.get(service, 0.0) <= now]
            fetched = await asyncio.gather(*(self._fetch(client, service) for service in due))
            for service, spec in zip(due, fetched, strict=True):
                if spec is not None:
                    self._cached[service] = spec
                retry_in = self.settings.openapi_cache_seconds if spec is not None else FAILED_FETCH_RETRY_SECONDS
                self._next_fetch[service] = now + retry_in
        parts: list[tuple[str, dict[str, Any], Selector]] = [
            ("gateway", gateway_spec, _gateway_selector),
        ]
        parts.extend(
            (service.value, self._cached[service], upstream_selector(service, self.table.routes))
            for service in Upstream if service in self._cached
        )
        document = merge(parts, title="ODR platform API")
        missing = [service.value for service in Upstream if service not in self._cached]
        if missing:
            document["x-unavailable-services"] = missing
        return document

    async def _fetch(self, client: httpx.AsyncClient, service: Upstream) -> dict[str, Any] | None:
        try:
            answer = await client.get(self.bases[service] + "/openapi.json", timeout=OPENAPI_FETCH_TIMEOUT)
            answer.raise_for_status()
            spec = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("openapi fetch failed", service=service.value, error=type(exc).__name__)
            return None
        return spec if isinstance(spec, dict) else None
