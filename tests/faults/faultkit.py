"""Helpers of the fault tests: bounded waiting, and the counts every fault test reports."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_until(probe: Callable[[], Awaitable[Any]], *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        answer = await probe()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"{what} did not happen within {within:.0f} s; last: {answer!r}"
        await asyncio.sleep(0.3)


def counts(filed: list[str], listed: list[str]) -> dict[str, int]:
    """What a fault test reports: filed, delivered, duplicates, lost."""
    listed_set = set(listed)
    return {"filed": len(filed), "delivered": len(listed_set & set(filed)),
            "duplicates": len(listed) - len(listed_set), "lost": len(set(filed) - listed_set)}


def json_line(what: dict[str, int]) -> str:
    return json.dumps(what, sort_keys=True)
