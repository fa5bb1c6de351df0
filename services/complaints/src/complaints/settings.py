"""Settings of the complaints service (environment prefix ODR_)."""

from __future__ import annotations

from pathlib import Path

from servicekit.settings import ServiceSettings


class ComplaintsSettings(ServiceSettings):
    """The shared settings with this service's name and database."""

    service_name: str = "complaints"
    database_name: str | None = "odr_complaints"
    # How often the breach sweeper looks for clocks that ran out (seconds).
    deadline_sweep_interval: float = 30.0
    # Evidence attachments: the directory they are kept in, and the largest one accepted.
    evidence_dir: Path = Path(".odr/evidence")
    evidence_max_bytes: int = 5 * 1024 * 1024
    # Anti-abuse signal (Art. 17): this many complaints by one person against one business within the window.
    repeat_complaints_threshold: int = 3
    repeat_complaints_window_days: int = 30
