"""Shared by the complaints tests (a module of its own so that test modules never import conftest)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

PII_KEY = "complaints-test-pii-key"
VALID_USCC = "92632801MA7YYYYY1Y"  # check character per GB 32100-2015
VALID_ID_NUMBER = "632801199003071235"  # check character per GB 11643-1999


def checked_identity(**changes: Any) -> dict[str, Any]:
    """What station staff record after checking a walk-in's resident ID card, with `changes` applied on top."""
    return {"document_type": "resident_id_card", "document_number": VALID_ID_NUMBER, "checked": True} | changes
# Two provinces no other test files into have shortened the ODR negotiation period; the rest keep the national 10.
NEGOTIATION_WORKING_DAYS = {"110000": 7, "120000": 12}


@dataclass(frozen=True)
class Area:
    """A real GB/T 2260 prefecture and (some of) its counties, for tests that need regions."""

    prefecture: str
    counties: tuple[str, ...]

    @property
    def first(self) -> str:
        return self.counties[0]

    @property
    def second(self) -> str:
        return self.counties[1]

    @property
    def third(self) -> str:
        return self.counties[2]

Consumer = Callable[[], tuple[str, dict[str, str]]]
Seed = Callable[..., Awaitable[uuid.UUID]]
ChangeEnrollment = Callable[..., Awaitable[None]]
Count = Callable[..., Awaitable[int]]


def complaint_body(**changes: Any) -> dict[str, Any]:
    """The canonical request of architecture.md §5, with `changes` applied on top."""
    body: dict[str, Any] = {
        "kind": "complaint",
        "green_channel": True,
        "complainant": {"name": "王芳", "phone": "13800138000", "address": "青海省格尔木市昆仑中路12号"},
        "respondent": {"merchant_id": str(uuid.uuid4())},
        "request": {"type": "refund", "amount_fen": 29900},
        "facts": "购买的枸杞与网页宣传不符，要求退款。",
        "purchase": {"date": "2026-11-20", "amount_fen": 29900, "order_no": "JD2026112000123"},
        "sector": "online_shopping",
        "category": "food.local_specialty",
        "channel": "app",
    }
    body.update(changes)
    return body


def unregistered(region_code: str) -> dict[str, str]:
    """A respondent that is not in the registry."""
    return {"name": "昆仑路小卖部", "address": "青海省格尔木市昆仑路8号", "uscc": VALID_USCC,
            "region_code": region_code}


async def file_case(client: httpx.AsyncClient, auth: dict[str, str], region: str, **changes: Any) -> dict[str, Any]:
    """File a case against a business not in the registry of `region` (so it goes to the regulator); the response."""
    changes.setdefault("respondent", unregistered(region))
    response = await client.post("/v1/consumer/complaints", json=complaint_body(**changes), headers=auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
