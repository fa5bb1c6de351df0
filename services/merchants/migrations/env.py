"""Alembic environment of the merchants service: its own database, from the service settings."""

from logging.config import fileConfig

from alembic import context

import merchants.applications.models
import merchants.credentials.models
import merchants.enrollment.models
import merchants.portal.models
import merchants.registry.models
import merchants.scorecards.models
import merchants.sessions.models
import merchants.stations.models
import merchants.summons.models
import merchants.webhooks.models  # noqa: F401  (every model module, so autogenerate sees the whole schema)
from merchants.database import metadata
from merchants.settings import MerchantsSettings
from servicekit.migrations import run_migrations

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run_migrations(metadata, MerchantsSettings())
