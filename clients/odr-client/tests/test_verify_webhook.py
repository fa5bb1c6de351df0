"""verify_webhook against signatures computed here from the Standard Webhooks specification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable

import pytest

from odr_client import WebhookVerificationError, verify_webhook

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
NOW = 1_764_300_000
Tamper = Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]
BODY = json.dumps({"type": "complaints.complaint.routed.v1", "timestamp": "2026-11-28T04:00:00+00:00",
                   "data": {"complaint_id": "c-1", "merchant_id": "m-1"}}, ensure_ascii=False).encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(timestamp: int = NOW, signature: str | None = None, message_id: str = "msg-1") -> dict[str, str]:
    return {"Webhook-Id": message_id, "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": signature or sign(SECRET, message_id, timestamp, BODY)}


def test_a_good_webhook_verifies_and_parses() -> None:
    event = verify_webhook(SECRET, headers(), BODY, now=NOW + 10)
    assert event.type == "complaints.complaint.routed.v1"
    assert event.webhook_id == "msg-1"
    assert event.data["complaint_id"] == "c-1"


def test_any_of_several_signatures_may_match() -> None:
    other = sign("whsec_" + base64.b64encode(b"o" * 32).decode(), "msg-1", NOW, BODY)
    verify_webhook(SECRET, headers(signature=f"{other} {sign(SECRET, 'msg-1', NOW, BODY)}"), BODY, now=NOW)


@pytest.mark.parametrize(
    ("tamper", "complaint"),
    [
        (lambda h, b: (h, b.replace(b"c-1", b"c-2")), "no signature matches"),
        (lambda h, b: ({**h, "Webhook-Id": "msg-2"}, b), "no signature matches"),
        (lambda h, b: ({**h, "Webhook-Signature": "v2," + h["Webhook-Signature"][3:]}, b), "no signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "Webhook-Signature"}, b), "missing header"),
        (lambda h, b: ({**h, "Webhook-Timestamp": "soon"}, b), "not an integer"),
    ],
)
def test_tampered_webhooks_are_refused(tamper: Tamper, complaint: str) -> None:
    tampered_headers, tampered_body = tamper(headers(), BODY)
    with pytest.raises(WebhookVerificationError, match=complaint):
        verify_webhook(SECRET, tampered_headers, tampered_body, now=NOW)


def test_old_or_future_timestamps_are_refused_as_replays() -> None:
    verify_webhook(SECRET, headers(), BODY, now=NOW + 300)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(SECRET, headers(), BODY, now=NOW + 301)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(SECRET, headers(), BODY, now=NOW - 301)
    verify_webhook(SECRET, headers(), BODY, tolerance=1000, now=NOW + 900)


def test_the_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook("whsec_" + base64.b64encode(b"x" * 32).decode(), headers(), BODY, now=NOW)
