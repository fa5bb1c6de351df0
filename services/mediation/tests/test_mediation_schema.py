"""The migrations and the models describe the same schema (`alembic check` finds nothing to generate)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from mediation.settings import MediationSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]


async def test_models_match_the_migrated_database(settings: MediationSettings) -> None:
    env = {**os.environ, "ODR_DATABASE_URL": settings.database_url, "ODR_DATABASE_NAME": settings.database_name or ""}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "alembic", "-c", "alembic.ini", "check"], env=env, cwd=SERVICE_DIR,
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "No new upgrade operations detected" in done.stdout + done.stderr
