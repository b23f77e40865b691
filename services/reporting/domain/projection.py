"""Order-tolerant, idempotent entity state: a last-writer-wins register per field.

Every event states some fields of one entity (a *fact*), stamped with a version. An entity's
state keeps, per field, the value of the highest version that stated it. Merging is commutative,
associative and idempotent, so any delivery order and any duplication give the same state; the
figures are then aggregations over these states.

A version is a string that sorts like the facts should: the owner's revision (zero-padded),
then the event time (UTC, fixed width), then the event id as a tie-breaker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Version = str


def make_version(revision: int, time: datetime, event_id: str) -> Version:
    utc = time.astimezone(UTC) if time.tzinfo else time.replace(tzinfo=UTC)
    return f"{revision:010d}|{utc.isoformat(timespec='microseconds')}|{event_id}"  # fixed width


@dataclass(frozen=True)
class Fact:
    """What one event says about one entity."""

    kind: str
    key: str
    fields: Mapping[str, Any]
    version: Version


@dataclass
class EntityState:
    fields: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Version] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"fields": self.fields, "versions": self.versions}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> EntityState:
        if not raw:
            return cls()
        return cls(dict(raw["fields"]), dict(raw["versions"]))


def merge(state: EntityState, fact: Fact) -> tuple[EntityState, bool]:
    """The state with the fact applied, and whether anything changed."""
    fields, versions = dict(state.fields), dict(state.versions)
    changed = False
    for name, value in fact.fields.items():
        current = versions.get(name)
        if current is None or fact.version > current:
            fields[name] = value
            versions[name] = fact.version
            changed = True
    return EntityState(fields, versions), changed


class Projection:
    """Entity states held in memory, keyed by (kind, key): the rebuild path and the unit tests."""

    def __init__(self) -> None:
        self.entities: dict[tuple[str, str], EntityState] = {}

    def apply(self, facts: Iterable[Fact]) -> None:
        entities = self.entities
        for fact in facts:
            ident = (fact.kind, fact.key)
            state = entities.get(ident)
            if state is None:  # the first fact about an entity is its state (most facts, in a rebuild)
                entities[ident] = EntityState(dict(fact.fields), dict.fromkeys(fact.fields, fact.version))
            else:
                entities[ident], _ = merge(state, fact)

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        return {key: state.fields for (k, key), state in self.entities.items() if k == kind}
