"""Verifying incoming webhooks (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping

from odr_client.errors import WebhookVerificationError
from odr_client.models import WebhookEvent

SECRET_PREFIX = "whsec_"


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing header {name}")


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError("the secret is not a whsec_ secret") from exc


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes, tolerance: int = 300,
                   now: float | None = None) -> WebhookEvent:
    """The event in a webhook whose signature matches and whose timestamp is within `tolerance` seconds.

    Pass the raw body exactly as received. Raises WebhookVerificationError otherwise; the `webhook-id`
    header (also in the returned event) is the same for every retry of one delivery: deduplicate on it.
    """
    message_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(timestamp_text)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance (replayed or clock skew)")
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
    # Several space-separated signatures are allowed (e.g. while the sender rotates secrets).
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            break
    else:
        raise WebhookVerificationError("no signature matches")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError("the body is not JSON") from exc
    return WebhookEvent.model_validate({**payload, "webhook_id": message_id})
