"""Explicit topic creation against the real broker: partitions as declared, existing topics left alone."""

from __future__ import annotations

from typing import Any

from servicekit.events.kafka import ensure_topics


async def test_ensure_topics_creates_partitions_as_declared_and_ignores_existing_topics(kafka: Any) -> None:
    orders, payments, refunds = (kafka.unique(f"topics.{name}.") for name in ("orders", "payments", "refunds"))

    await ensure_topics(kafka.bootstrap, {orders: 3, payments: 1})
    # The broker answers "already exists" (error 36) for the first two; that must not fail or alter them.
    await ensure_topics(kafka.bootstrap, {orders: 6, payments: 1, refunds: 2})

    assert await kafka.partitions(orders) == {0, 1, 2}
    assert await kafka.partitions(payments) == {0}
    assert await kafka.partitions(refunds) == {0, 1}
