"""One filing, one trace: the gateway's span, complaints' handling of the request, and, across Kafka, both services
that consume the complaint's events, exported by each process over OTLP to a collector."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from otlp_collector import ExportedSpan, TraceCollector

pytestmark = pytest.mark.e2e

SERVER, CONSUMER = 2, 5  # OTLP's SpanKind numbers


def ancestors(span: ExportedSpan, by_id: dict[str, ExportedSpan]) -> list[str]:
    chain: list[str] = []
    while span.parent_span_id in by_id:
        chain.append(span.parent_span_id)
        span = by_id[span.parent_span_id]
    return chain


async def test_a_filing_is_one_trace_from_the_gateway_through_kafka_into_both_consumers(
    gateway: httpx.AsyncClient, consumer_token: str, complaint_body: Callable[..., dict[str, Any]],
    trace_collector: TraceCollector, eventually: Callable[..., Any],
) -> None:
    filed = await gateway.post("/v1/consumer/complaints", json=complaint_body(),
                               headers={"Authorization": f"Bearer {consumer_token}",
                                        "Idempotency-Key": str(uuid.uuid4()),
                                        # A caller outside the platform does not choose the trace.
                                        "traceparent": "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"})
    assert filed.status_code == 201, filed.text
    request_id = filed.headers["X-Request-Id"]

    def edge_span() -> ExportedSpan | None:
        # The gateway's span of this very request: other tests' filings are traced too.
        return next((span for span in trace_collector.spans if span.service == "gateway" and span.kind == SERVER
                     and span.attributes.get("odr.request_id", {}).get("stringValue") == request_id), None)

    async def whole_trace_exported() -> list[ExportedSpan] | None:
        edge = edge_span()
        if edge is None:
            return None
        spans = [span for span in trace_collector.spans if span.trace_id == edge.trace_id]
        servers = {span.service for span in spans if span.kind == SERVER}
        consumers = {span.service for span in spans if span.kind == CONSUMER}
        # Each process exports on its own schedule: wait for all four.
        return spans if {"gateway", "complaints"} <= servers and {"mediation", "merchants"} <= consumers else None

    spans = await eventually(whole_trace_exported, within=30.0, what="the filing's spans from every process")

    found = edge_span()
    assert found is not None
    assert found.trace_id != "0123456789abcdef0123456789abcdef"
    trace_id = found.trace_id
    in_trace = [span for span in spans if span.trace_id == trace_id]
    by_id = {span.span_id: span for span in in_trace}
    [edge] = [span for span in in_trace if span.service == "gateway" and span.kind == SERVER]
    # One span per request the gateway made (FastAPI's own instrumentation stays off: it would record paths and query
    # strings); the filing is the one that published the events the consumers continue.
    intakes = [span for span in in_trace if span.service == "complaints" and span.kind == SERVER
               and span.name == "POST /v1/consumer/complaints"]
    assert intakes
    assert all(by_id[intake.parent_span_id] == edge for intake in intakes)
    consumer_spans = [span for span in in_trace if span.kind == CONSUMER]
    [intake] = [span for span in intakes
                if any(span.span_id in ancestors(consumed, by_id) for consumed in consumer_spans)]
    for service in ("mediation", "merchants"):
        consumed = [span for span in in_trace if span.service == service and span.kind == CONSUMER]
        assert consumed, service
        # Each consumer span continues the request that published the event, directly or through the events
        # that handling it published in turn.
        for span in consumed:
            assert intake.span_id in ancestors(span, by_id), (service, span.name)
        assert "complaints.complaint" in {span.attributes["messaging.destination.name"]["stringValue"]
                                          for span in consumed}
