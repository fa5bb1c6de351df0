"""Versioned event contracts, imported by producers and consumers alike.

Rules: data only; additive changes within a version; a breaking change is a new
``.v2`` type published beside ``.v1``. ``tests/contracts`` snapshots every schema.
"""

from __future__ import annotations

from pydantic import BaseModel

from servicekit.contracts import complaints_v1, mediation_v1, merchants_v1
from servicekit.contracts.base import EventContract

CONTRACTS: dict[str, type[EventContract]] = {
    contract.event_type: contract
    for module in (complaints_v1, merchants_v1, mediation_v1)
    for contract in module.CONTRACTS
}


def parse(event_type: str, data: dict[str, object]) -> BaseModel:
    """Validate an event's data against its contract."""
    return CONTRACTS[event_type].model_validate(data)


__all__ = ["CONTRACTS", "EventContract", "parse"]
