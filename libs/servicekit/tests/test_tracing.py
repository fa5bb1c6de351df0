"""Spans while this process exports none (ODR_OTEL_ENABLED off, as in these tests): a caller's trace is still passed
on, and nothing else is."""

from __future__ import annotations

from opentelemetry.trace import INVALID_SPAN, SpanKind

from servicekit.tracing import current_traceparent, span_from

CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_request_without_a_trace_gets_none_and_passes_none_on() -> None:
    with span_from(None, "GET", kind=SpanKind.SERVER) as span:
        assert span is INVALID_SPAN
        assert current_traceparent() is None


def test_a_callers_trace_is_passed_on_to_what_the_request_publishes() -> None:
    with span_from(CALLER, "POST", kind=SpanKind.SERVER):
        assert current_traceparent() == CALLER
    assert current_traceparent() is None


def test_work_without_a_trace_inside_traced_work_starts_afresh() -> None:
    with span_from(CALLER, "consume", kind=SpanKind.CONSUMER), span_from(None, "consume", kind=SpanKind.CONSUMER):
        assert current_traceparent() is None
