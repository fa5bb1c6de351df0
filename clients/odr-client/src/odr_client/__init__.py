"""Client for ODR enterprises: ``OdrClient`` for the API, ``verify_webhook`` for incoming webhooks."""

from odr_client.client import OdrClient
from odr_client.errors import OdrApiError, OdrAuthError, WebhookVerificationError
from odr_client.webhooks import verify_webhook

__all__ = ["OdrApiError", "OdrAuthError", "OdrClient", "WebhookVerificationError", "verify_webhook"]
