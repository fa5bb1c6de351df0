"""Alembic environment of the mediation service: its own database, from the service settings."""

from logging.config import fileConfig

from alembic import context

import mediation.agreements.models
import mediation.audit.models
import mediation.cases.models
import mediation.fulfilment.models
import mediation.messages.models
import mediation.negotiation.models
import mediation.outcomes.models
import mediation.regulator.models  # noqa: F401  (every model module, so autogenerate sees the whole schema)
from mediation.database import metadata
from mediation.settings import MediationSettings
from servicekit.migrations import run_migrations

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run_migrations(metadata, MediationSettings())
