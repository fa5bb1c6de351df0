"""Every topic and consumer group of the platform, in one place, so topics are created explicitly."""

from __future__ import annotations

# topic -> partitions; events of one aggregate share a key and so a partition.
TOPICS: dict[str, int] = {
    "complaints.complaint": 8,
    "merchants.enrollment": 4,
    "mediation.case": 8,
}

# consumer group -> the topics it reads; each group has its own dead-letter topic `<group>.dlq`.
CONSUMER_GROUPS: dict[str, list[str]] = {
    "complaints.on-merchants": ["merchants.enrollment"],
    "complaints.on-mediation": ["mediation.case"],
    "mediation.on-complaints": ["complaints.complaint"],
    "merchants.on-complaints": ["complaints.complaint"],
    "merchants.on-mediation": ["mediation.case"],
}


def dlq_topic(group: str) -> str:
    return f"{group}.dlq"


def all_topics() -> dict[str, int]:
    """Topics to create at start-up: the event topics and one single-partition DLQ per group."""
    return {**TOPICS, **{dlq_topic(group): 1 for group in CONSUMER_GROUPS}}
