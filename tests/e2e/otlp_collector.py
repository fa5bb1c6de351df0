"""A minimal OTLP/HTTP trace receiver for the e2e stack: what an OpenTelemetry collector is to a deployment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from servicekit import infra


@dataclass(frozen=True)
class ExportedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]


class TraceCollector:
    """A minimal OTLP/HTTP receiver (`POST /v1/traces`, protobuf), as an OpenTelemetry collector would be."""

    def __init__(self) -> None:
        self.spans: list[ExportedSpan] = []
        self.port = infra.free_port()
        self._runner: web.AppRunner | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/traces", self._receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        for resource_spans in export.resource_spans:
            service = next(attribute.value.string_value for attribute in resource_spans.resource.attributes
                           if attribute.key == "service.name")
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(
                    ExportedSpan(service=service, name=span.name, kind=span.kind, trace_id=span.trace_id.hex(),
                                 span_id=span.span_id.hex(), parent_span_id=span.parent_span_id.hex(),
                                 attributes={attribute.key: MessageToDict(attribute.value)
                                             for attribute in span.attributes})
                    for span in scope_spans.spans)
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")
