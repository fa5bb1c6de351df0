"""Sealed event fields: what a person wrote travels only as ciphertext bound to its event, and older events that
carried it in clear still read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from servicekit.contracts.complaints_v1 import ComplainantForMerchant, ComplaintRouted, RouteTarget
from servicekit.contracts.mediation_v1 import CaseTerminated
from servicekit.pii import PiiCipher

CIPHER = PiiCipher("contract-test-key")
FACTS = "购买的枸杞与网页宣传不符，商家拒绝退货。"


def routed(complaint_id: uuid.UUID, **facts: Any) -> ComplaintRouted:
    return ComplaintRouted(
        complaint_id=complaint_id, case_no="TS-1", target=RouteTarget.MERCHANT, merchant_id=uuid.uuid4(),
        region_code="632801", consumer_id="c1",
        complainant=ComplainantForMerchant(name="王*", phone_masked="138****0000"), request_type="refund",
        request_amount_fen=100, due_date=None, routed_at=datetime.now(UTC), **facts)


def test_the_facts_travel_sealed_and_open_only_for_their_complaint() -> None:
    complaint_id = uuid.uuid4()
    event = routed(complaint_id, facts_sealed=ComplaintRouted.seal_facts(CIPHER, complaint_id=complaint_id,
                                                                        facts=FACTS))
    data = event.envelope(source="complaints").data
    assert FACTS not in str(data)
    assert data["facts"] is None
    parsed = ComplaintRouted.model_validate(data)
    assert parsed.facts_text(CIPHER, complaint_id=complaint_id) == FACTS
    with pytest.raises(InvalidTag):
        parsed.facts_text(CIPHER, complaint_id=uuid.uuid4())  # copied onto another complaint, it does not open
    with pytest.raises(InvalidTag):
        parsed.facts_text(PiiCipher("another-key"), complaint_id=complaint_id)


def test_an_event_from_before_the_seal_still_reads_and_one_without_facts_is_refused() -> None:
    complaint_id = uuid.uuid4()
    assert routed(complaint_id, facts=FACTS).facts_text(CIPHER, complaint_id=complaint_id) == FACTS
    with pytest.raises(ValidationError):
        routed(complaint_id)


def test_a_termination_note_travels_sealed_bound_to_its_case() -> None:
    case_id = uuid.uuid4()
    fields: dict[str, Any] = {"case_id": case_id, "complaint_id": uuid.uuid4(), "merchant_id": None,
                              "region_code": "632801", "at": datetime.now(UTC), "ground": 3}
    sealed = CaseTerminated.seal_note(CIPHER, case_id=case_id, note="双方无法达成一致")
    event = CaseTerminated(**fields, note_sealed=sealed)
    assert "双方无法达成一致" not in str(event.envelope(source="mediation").data)
    assert CaseTerminated.model_validate(event.model_dump(mode="json")).note_text(CIPHER) == "双方无法达成一致"
    assert CaseTerminated(**fields, note="旧事件").note_text(CIPHER) == "旧事件"
    assert CaseTerminated(**fields).note_text(CIPHER) is None
