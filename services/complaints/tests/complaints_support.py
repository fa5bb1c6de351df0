"""Shared by the complaints tests (a module of its own so that test modules never import conftest)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

PII_KEY = "complaints-test-pii-key"

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
    return {"name": "昆仑路小卖部", "address": "青海省格尔木市昆仑路8号", "uscc": "92632801MA7YYYYY1R",
            "region_code": region_code}
