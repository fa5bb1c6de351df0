"""Alembic environment of the mediation service: its own database, from the service settings."""

from logging.config import fileConfig

from alembic import context

import mediation.cases.models  # noqa: F401  (every model module, so autogenerate sees the whole schema)
from mediation.database import metadata
from mediation.settings import MediationSettings
from servicekit.migrations import run_migrations

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run_migrations(metadata, MediationSettings())
