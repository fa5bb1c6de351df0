"""Logs carry no bodies and no personal data: fields that may hold them are dropped, numbers in free text masked."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from servicekit.observability import configure_logging, get_logger, scrub


def test_phone_and_id_numbers_are_masked_in_free_text() -> None:
    assert scrub("call 13912345678 now") == "call 139****5678 now"
    assert scrub("id 632801199001011239.") == "id 632801********1239."
    assert scrub("order 2026112000123456789") == "order 2026112000123456789"


def test_a_log_line_keeps_no_body_personal_field_or_number(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("redaction-test")
    try:
        get_logger("t").warning("filing failed for 13912345678", body={"phone": "13912345678"}, name="索南措毛",
                                case_id="c-1")
        try:
            raise ValueError("duplicate key (id_number)=(632801199001011239)")
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    text = json.dumps(lines, ensure_ascii=False)
    for value in ("13912345678", "632801199001011239", "索南措毛"):
        assert value not in text
    assert lines[0]["case_id"] == "c-1"
    assert lines[0]["body"] == "[redacted]"
    assert "139****5678" in lines[0]["event"]
    assert "632801********1239" in lines[1]["exception"]
