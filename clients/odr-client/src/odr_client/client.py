"""The enterprise's API client: client_credentials tokens fetched, cached and refreshed for you."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel

from odr_client.errors import OdrApiError, OdrAuthError
from odr_client.models import (
    CaseDetail,
    CasePage,
    Declined,
    DeliveryPage,
    EvidenceRef,
    FulfilmentProof,
    Message,
    Offer,
    OfferAnswer,
    RotatedCredentials,
    SharedEvidence,
    WebhookSettings,
)

TOKEN_PATH = "/auth/token"
Parsed = TypeVar("Parsed", bound=BaseModel)


class OdrClient:
    """Async client of the ODR platform for one enterprise.

    ``async with OdrClient(base_url, client_id, client_secret) as odr: page = await odr.list_cases()``.
    A token is requested on first use, reused until `refresh_margin` seconds before it expires, and
    requested again once if the platform answers 401 (e.g. after a key rotation).
    """

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, refresh_margin: float = 60.0,
                 timeout: float = 10.0, http: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.refresh_margin = refresh_margin
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._owns_http = http is None
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (if the client created it)."""
        if self._owns_http:
            await self._http.aclose()

    def use_credentials(self, client_id: str, client_secret: str) -> None:
        """Switch to new credentials (after a rotation); the next request fetches a token with them."""
        self.client_id = client_id
        self._client_secret = client_secret
        self._token = None

    async def access_token(self, *, refresh: bool = False) -> str:
        """A valid access token, fetched when there is none, it is about to expire, or `refresh` is set."""
        async with self._lock:
            stale = self._token is None or self._clock() >= self._expires_at - self.refresh_margin
            if refresh or stale:
                await self._fetch_token()
            assert self._token is not None
            return self._token

    async def _fetch_token(self) -> None:
        asked_at = self._clock()
        response = await self._http.post(TOKEN_PATH, data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._client_secret})
        if response.is_error:
            error = OdrApiError.from_response(response)
            raise OdrAuthError(error.status, error.problem)
        body = response.json()
        self._token = body["access_token"]
        self._expires_at = asked_at + float(body["expires_in"])

    async def request(self, method: str, path: str, *, json: Any = None,
                      params: dict[str, Any] | None = None) -> httpx.Response:
        """An authenticated request; raises OdrApiError for error answers."""
        query = {name: value for name, value in (params or {}).items() if value is not None}
        token = await self.access_token()
        response = await self._send(method, path, token, json, query)
        if response.status_code == 401:
            # The token may have been invalidated early; one fresh token, one more try.
            token = await self.access_token(refresh=True)
            response = await self._send(method, path, token, json, query)
        if response.is_error:
            raise OdrApiError.from_response(response)
        return response

    async def _send(self, method: str, path: str, token: str, json: Any, params: dict[str, Any]) -> httpx.Response:
        return await self._http.request(method, path, json=json, params=params,
                                        headers={"Authorization": f"Bearer {token}"})

    async def _call(self, model: type[Parsed], method: str, path: str, *, json: Any = None,
                    params: dict[str, Any] | None = None) -> Parsed:
        response = await self.request(method, path, json=json, params=params)
        return model.model_validate_json(response.content)

    # Cases (mediation service)

    async def list_cases(self, *, status: str | None = None, cursor: str | None = None,
                         limit: int | None = None) -> CasePage:
        """One page of cases against the enterprise, newest first."""
        return await self._call(CasePage, "GET", "/v1/merchant/cases",
                                params={"status": status, "cursor": cursor, "limit": limit})

    async def iter_cases(self, *, status: str | None = None) -> AsyncIterator[CasePage]:
        """Every page of cases, following the cursors."""
        cursor: str | None = None
        while True:
            page = await self.list_cases(status=status, cursor=cursor)
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get_case(self, case_id: uuid.UUID | str) -> CaseDetail:
        """A case with its offers, messages, agreement and fulfilment proofs."""
        return await self._call(CaseDetail, "GET", f"/v1/merchant/cases/{case_id}")

    async def download_evidence(self, evidence: SharedEvidence | EvidenceRef,
                                complaint_id: uuid.UUID | str | None = None) -> bytes:
        """The file of an attachment the consumer shared, checked against its SHA-256: one of `case.evidence`, or of
        a routed webhook's `evidence` with that webhook's `complaint_id`."""
        if isinstance(evidence, SharedEvidence):
            path = evidence.download_path
        elif complaint_id is not None:
            path = f"/v1/merchant/complaints/{complaint_id}/evidence/{evidence.id}"
        else:
            raise ValueError("an attachment named in a webhook needs the webhook's complaint_id")
        response = await self.request("GET", path)
        if hashlib.sha256(response.content).hexdigest() != evidence.sha256:
            raise OdrApiError(response.status_code, {"title": "The downloaded file does not match its SHA-256"})
        return response.content

    async def make_offer(self, case_id: uuid.UUID | str, *, type: str, amount_fen: int | None = None,
                         fulfil_by: date | None = None, note: str | None = None) -> Offer:
        """Put a typed offer on the table (refund, exchange, repair, compensation, apology, ...)."""
        body = {"type": type, "amount_fen": amount_fen, "fulfil_by": fulfil_by.isoformat() if fulfil_by else None,
                "note": note}
        return await self._call(Offer, "POST", f"/v1/merchant/cases/{case_id}/offers",
                                json={name: value for name, value in body.items() if value is not None})

    async def withdraw_offer(self, case_id: uuid.UUID | str, offer_id: uuid.UUID | str) -> OfferAnswer:
        """Withdraw the enterprise's open offer."""
        return await self._call(OfferAnswer, "POST", f"/v1/merchant/cases/{case_id}/offers/{offer_id}/withdraw")

    async def accept_offer(self, case_id: uuid.UUID | str, offer_id: uuid.UUID | str) -> OfferAnswer:
        """Accept the consumer's counter-proposal."""
        return await self._call(OfferAnswer, "POST", f"/v1/merchant/cases/{case_id}/offers/{offer_id}/accept")

    async def post_message(self, case_id: uuid.UUID | str, text: str) -> Message:
        """Write to the consumer in the case."""
        return await self._call(Message, "POST", f"/v1/merchant/cases/{case_id}/messages", json={"text": text})

    async def decline(self, case_id: uuid.UUID | str, note: str | None = None) -> Declined:
        """Decline to settle: the complaint goes to the regulator."""
        return await self._call(Declined, "POST", f"/v1/merchant/cases/{case_id}/decline",
                                json={"note": note} if note else {})

    async def record_fulfilment(self, case_id: uuid.UUID | str, *, kind: str, reference: str,
                                note: str | None = None) -> FulfilmentProof:
        """Record proof of fulfilling the agreement: kind is refund_txn, shipment, repair_order or other."""
        body = {"kind": kind, "reference": reference, **({"note": note} if note else {})}
        return await self._call(FulfilmentProof, "POST", f"/v1/merchant/cases/{case_id}/fulfilment", json=body)

    # Webhooks and credentials (merchants service)

    async def configure_webhook(self, url: str, *, secret: str | None = None,
                                events: list[str] | None = None) -> WebhookSettings:
        """Set the webhook; the answer carries the signing secret (generated when not given). Keep it."""
        body: dict[str, Any] = {"url": url, "events": events or ["*"]}
        if secret is not None:
            body["secret"] = secret
        return await self._call(WebhookSettings, "PUT", "/v1/merchant/webhook", json=body)

    async def get_webhook(self) -> WebhookSettings:
        """The webhook as configured (without its secret), and whether it was disabled for failing."""
        return await self._call(WebhookSettings, "GET", "/v1/merchant/webhook")

    async def list_deliveries(self, *, status: str | None = None, cursor: str | None = None,
                              limit: int | None = None) -> DeliveryPage:
        """The webhook delivery log, newest first."""
        return await self._call(DeliveryPage, "GET", "/v1/merchant/webhook/deliveries",
                                params={"status": status, "cursor": cursor, "limit": limit})

    async def redeliver(self, delivery_id: uuid.UUID | str) -> None:
        """Ask for a delivery to be sent again now."""
        await self.request("POST", f"/v1/merchant/webhook/deliveries/{delivery_id}/redeliver")

    async def rotate_credentials(self) -> RotatedCredentials:
        """New credentials; this client switches to them, the old ones keep working until the overlap ends."""
        rotated = await self._call(RotatedCredentials, "POST", "/v1/merchant/credentials/rotate")
        self.use_credentials(rotated.client_id, rotated.client_secret)
        return rotated

    async def report_orders(self, month: str, orders: int) -> None:
        """Report the month's order count ("2026-11"), so the scorecard also shows complaints per 1,000 orders."""
        await self.request("PUT", f"/v1/merchant/scorecard/orders/{month}", json={"orders": orders})

    async def scorecard(self) -> dict[str, Any]:
        """The enterprise's scorecard as the platform computes it."""
        response = await self.request("GET", "/v1/merchant/scorecard")
        result: dict[str, Any] = response.json()
        return result
