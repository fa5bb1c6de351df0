"""Alembic environment of the complaints service: its own database, from the service settings."""

from logging.config import fileConfig

from alembic import context

import complaints.access.models
import complaints.complaint.case_numbers
import complaints.complaint.models
import complaints.consultation.models
import complaints.deadline.models
import complaints.enrollment.models
import complaints.evidence.models
import complaints.idempotency
import complaints.notifications.models
import complaints.stats.models
import complaints.summary.models  # noqa: F401  (every model module, so autogenerate sees the whole schema)
from complaints.database import metadata
from complaints.settings import ComplaintsSettings
from servicekit.migrations import run_migrations

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run_migrations(metadata, ComplaintsSettings())
