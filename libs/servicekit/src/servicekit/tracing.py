"""OpenTelemetry traces across the platform: one trace follows a request from the gateway into a service, through
the events it publishes (the W3C `traceparent` rides in the CloudEvents envelope, so across Kafka) into every
consumer, and on to the webhook deliveries those consumers owe.

Off by default (`ODR_OTEL_ENABLED`): without a configured provider the API is a no-op and costs next to nothing.
When on, spans are batched and exported over OTLP/HTTP to `ODR_OTEL_EXPORTER_ENDPOINT` (a collector)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind

TRACEPARENT = "traceparent"
tracer = trace.get_tracer("odr")
# FastAPI's own instrumentation stays off: our request span (servicekit.observability) names routes, never paths or
# query strings, which can carry what a person typed; one span per request, not two.
FASTAPI_TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False,
                                          "operation_spans": False}
# Whether this process installed a provider (configure_tracing); until then every span is a no-op.
_recording = False


def configure_tracing(service_name: str, *, enabled: bool, endpoint: str,
                      processor: SpanProcessor | None = None) -> TracerProvider | None:
    """Install the process's tracer provider when tracing is on; returns it so the caller can flush it on exit.
    `processor` replaces the OTLP export (tests read spans in memory)."""
    if not enabled:
        return None
    global _recording
    _recording = True
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(processor or BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    return provider


def current_traceparent() -> str | None:
    """The active span as a W3C traceparent, to carry where a context cannot follow by itself (an event)."""
    if not trace.get_current_span().get_span_context().is_valid:
        # What the propagator would find too, without building a carrier and walking every propagator: every event
        # a use case stages asks, and while tracing is off there is never a span.
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def _nothing_to_pass_on() -> bool:
    """This process records no spans and no span is current (a caller's trace would make one current)."""
    return not _recording and not trace.get_current_span().get_span_context().is_valid


def inject_into(headers: MutableMapping[str, str]) -> None:
    """Add the active span's trace headers to an outgoing request's."""
    if _nothing_to_pass_on():
        # The platform sets no baggage, so without a span the propagators would add nothing to a relayed request.
        return
    propagate.inject(headers)


@contextmanager
def span_from(traceparent: str | None, name: str, *, kind: SpanKind,
              attributes: dict[str, Any] | None = None) -> Iterator[Span]:
    """A span continuing the trace named by `traceparent` (a new trace when there is none), made current."""
    if traceparent is None and _nothing_to_pass_on():
        # Nothing would be recorded or passed on: skip building and attaching a no-op span, which every process did
        # for every request and every consumed event.
        yield INVALID_SPAN
        return
    parent = propagate.extract({TRACEPARENT: traceparent}) if traceparent else context.Context()
    with tracer.start_as_current_span(name, context=parent, kind=kind, attributes=attributes) as span:
        yield span
