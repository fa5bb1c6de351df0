"""Event contracts are public: a change to any schema must be deliberate (new `.v2` type, or an additive field)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from servicekit.contracts import CONTRACTS
from servicekit.events.envelope import topic_for
from servicekit.events.topics import CONSUMER_GROUPS, TOPICS

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.mark.parametrize("event_type", sorted(CONTRACTS))
def test_schema_matches_snapshot(event_type: str) -> None:
    schema = CONTRACTS[event_type].model_json_schema()
    snapshot = SNAPSHOTS / f"{event_type}.json"
    if os.environ.get("ODR_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    assert snapshot.exists(), f"no snapshot for {event_type}: run with ODR_UPDATE_SNAPSHOTS=1 once and review it"
    assert json.loads(snapshot.read_text()) == schema, (
        f"{event_type} changed; additive fields only within a version, otherwise publish a .v2 type"
    )


def test_every_snapshot_has_a_contract() -> None:
    stale = {path.name.removesuffix(".json") for path in SNAPSHOTS.glob("*.json")} - set(CONTRACTS)
    assert not stale, f"snapshots without a contract (a published type was removed?): {sorted(stale)}"


@pytest.mark.parametrize("event_type", sorted(CONTRACTS))
def test_event_type_is_versioned_and_has_a_topic(event_type: str) -> None:
    assert event_type.rsplit(".", 1)[-1].startswith("v"), "the version is part of the type"
    assert topic_for(event_type) in TOPICS


def test_consumer_groups_read_declared_topics() -> None:
    for group, topics in CONSUMER_GROUPS.items():
        assert set(topics) <= set(TOPICS), group
