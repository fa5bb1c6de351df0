"""Secrets outside development: a placeholder or empty value must stop the service from starting."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from servicekit.settings import DEV_PLACEHOLDER, ServiceSettings

REAL_SECRETS: dict[str, Any] = {
    "pii_key": "a-real-pii-key-from-the-vault",
    "subject_key": "a-real-subject-key-from-the-vault",
    "internal_token": "a-real-internal-token",
    "jwt_public_key": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n",
}
ENV_NAMES = {"pii_key": "ODR_PII_KEY", "subject_key": "ODR_SUBJECT_KEY", "internal_token": "ODR_INTERNAL_TOKEN",
             "jwt_public_key": "ODR_JWT_PUBLIC_KEY"}


def test_production_starts_with_real_secrets() -> None:
    settings = ServiceSettings(environment="prod", **REAL_SECRETS)

    assert settings.pii_key.get_secret_value() == REAL_SECRETS["pii_key"]
    assert settings.internal_token.get_secret_value() == REAL_SECRETS["internal_token"]
    assert not settings.is_dev


@pytest.mark.parametrize("secret", sorted(ENV_NAMES))
@pytest.mark.parametrize("value", [DEV_PLACEHOLDER, ""])
def test_production_refuses_a_placeholder_or_empty_secret(secret: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(environment="prod", **{**REAL_SECRETS, secret: value})

    message = str(refused.value)
    assert f"{ENV_NAMES[secret]} must be set to a real secret when environment=prod" in message
    # The error names the setting, never the secret values around it.
    assert REAL_SECRETS["pii_key"] not in message


@pytest.mark.parametrize("environment", ["dev", "test"])
def test_development_accepts_the_placeholders(environment: str) -> None:
    settings = ServiceSettings(environment=environment)

    assert settings.is_dev
    assert settings.pii_key.get_secret_value() == DEV_PLACEHOLDER
    assert settings.internal_token.get_secret_value() == DEV_PLACEHOLDER
    assert settings.jwt_public_key == ""
