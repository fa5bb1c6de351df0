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



@pytest.mark.parametrize("password", ["p@ss:w/rd%23#?&", "简单 密码", "plain"])
def test_a_password_of_any_characters_reaches_the_driver_intact(password: str) -> None:
    """The compose file and the Kubernetes overlays pass the role's password as ODR_DATABASE_PASSWORD, never inside
    the URL; characters that mean something in a URL (@ : / % # ?) must reach the driver unchanged."""
    from urllib.parse import unquote, urlsplit

    from sqlalchemy.engine import make_url

    from servicekit.db import asyncpg_dsn

    settings = ServiceSettings(database_url="postgresql+asyncpg://complaints@db:5432/postgres",
                               database_name="odr_complaints", database_password=password)

    url = make_url(settings.sqlalchemy_url)
    assert (url.username, url.password, url.host, url.database) == ("complaints", password, "db", "odr_complaints")
    dsn = urlsplit(asyncpg_dsn(settings.sqlalchemy_url))
    assert unquote(dsn.password or "") == password
    assert dsn.hostname == "db"
