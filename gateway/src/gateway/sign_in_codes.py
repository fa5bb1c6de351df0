"""Sign-in codes travel by text message from the complaints service, which keeps the SMS outbox (the gateway has no
database): `/auth/otp` hands it the phone, the code and the client's address, and complaints applies the per-phone
and per-address limits, queues the message in one transaction and sends it."""

from __future__ import annotations

import httpx

from gateway.runtime import GatewayRuntime
from servicekit.observability import get_logger
from servicekit.problems import Problem

QUEUE_PATH = "/internal/v1/sms/sign-in-codes"

log = get_logger("gateway.sign_in_codes")


async def queue(runtime: GatewayRuntime, *, phone: str, code: str, client_address: str) -> None:
    """Queued, or a 429 when a limit is reached (nothing queued), or 503."""
    settings = runtime.settings
    try:
        answer = await runtime.internal_client.post(
            settings.complaints_url.rstrip("/") + QUEUE_PATH,
            json={"phone": phone, "code": code, "client_address": client_address},
            headers={"X-Internal-Token": settings.internal_token.get_secret_value()},
            timeout=settings.internal_call_timeout,
        )
    except httpx.HTTPError as exc:
        raise Problem("upstream-unavailable", "Sign-in codes cannot be sent now", service="complaints") from exc
    if answer.status_code == 429:
        raise Problem("rate-limited", "Too many sign-in codes for this number or address",
                      headers={"Retry-After": answer.headers.get("retry-after", "60")})
    if answer.status_code != 202:
        log.warning("queueing a sign-in code failed", status=answer.status_code)
        raise Problem("upstream-unavailable", "Sign-in codes cannot be sent now", service="complaints")
