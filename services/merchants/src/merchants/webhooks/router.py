"""The enterprise's webhook: configuration, the delivery log and manual redelivery."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from merchants.dependencies import Enterprise, EnterpriseManager, Settings
from merchants.webhooks import service as webhook_service
from merchants.webhooks.models import DeliveryStatus
from merchants.webhooks.schemas import (
    DeliveryDetail,
    DeliveryList,
    DeliveryRead,
    WebhookConfig,
    WebhookRead,
    WebhookSaved,
)
from merchants.webhooks.ssrf import parse_networks
from servicekit.dependencies import Cipher, DbSession
from servicekit.pagination import PageSize

router = APIRouter(prefix="/v1/merchant/webhook", tags=["merchant: webhook"])

@router.put("", response_model=WebhookSaved, summary="Set the webhook endpoint, its secret and event types",
            responses={403: {"description": "A portal user who is not the enterprise's admin"},
                       422: {"description": "Invalid URL (including non-public addresses), secret or event type"}})
async def configure(body: WebhookConfig, principal: EnterpriseManager, session: DbSession, cipher: Cipher,
                    settings: Settings) -> JSONResponse:
    """Save the endpoint (re-enabling it if it was disabled); the answer carries the signing secret once."""
    saved = await webhook_service.configure_webhook(
        session, merchant_id=principal.merchant_id, config=body, cipher=cipher,
        allowed=parse_networks(settings.webhook_allowed_networks),
        secret_overlap=timedelta(seconds=settings.webhook_secret_overlap_seconds))
    return JSONResponse(saved.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@router.get("", response_model=WebhookRead, summary="The webhook endpoint (without its secret)",
            responses={404: {"description": "No webhook is set yet"}})
async def read(principal: Enterprise, session: DbSession) -> WebhookRead:
    """Whether it is enabled and, if it was disabled for failing, when and why."""
    return await webhook_service.get_webhook(session, merchant_id=principal.merchant_id)


@router.get("/deliveries", response_model=DeliveryList, summary="The delivery log, newest first")
async def deliveries(principal: Enterprise, session: DbSession, status: DeliveryStatus | None = None,
                     cursor: str | None = None, limit: PageSize = 20) -> DeliveryList:
    """Every delivery owed to the enterprise with its attempts and last outcome."""
    return await webhook_service.list_deliveries(session, merchant_id=principal.merchant_id,
                                                 status=status, cursor=cursor, limit=limit)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail, summary="One delivery and its attempts")
async def delivery(delivery_id: uuid.UUID, principal: Enterprise, session: DbSession, cipher: Cipher) -> DeliveryDetail:
    """The body it sends and how every attempt went."""
    return await webhook_service.get_delivery(session, cipher, merchant_id=principal.merchant_id,
                                              delivery_id=delivery_id)


@router.post("/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryRead,
             summary="Send a delivery again now",
             responses={403: {"description": "A portal user who is not the enterprise's admin"}})
async def redeliver(delivery_id: uuid.UUID, principal: EnterpriseManager, session: DbSession,
                    settings: Settings) -> DeliveryRead:
    """Queue the delivery at once, with a fresh retry window (also for delivered or given-up ones)."""
    return await webhook_service.redeliver(
        session, merchant_id=principal.merchant_id, delivery_id=delivery_id,
        retry_window=timedelta(seconds=settings.webhook_retry_window_seconds))
