"""Small-count suppression for public figures, including against subtraction.

Primary suppression hides every count under the threshold (zero too: "nobody" is a small count).
Secondary suppression makes sure no hidden small count can be recomputed from published figures:
for each additive relation `total = part + part + ...` whose total is published, the sum of the
hidden parts (which anyone can compute as total minus the published parts) must not be small; and
a hidden total must not be recomputable as the sum of all-published parts when it is small. Where
a relation would leak, the smallest published part (or else the total) is hidden too, until no
relation leaks. Parts that are never published (e.g. "unplaced but not waitlisted") count as hidden.

Derived figures (ratios, means) are hidden when any figure they depend on is hidden, or when the
number of cases behind them is small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 10


@dataclass(frozen=True)
class Relation:
    total: str
    parts: Sequence[str]


@dataclass(frozen=True)
class Derived:
    """A non-count figure: hidden if a dependency is hidden or its case count is small."""

    name: str
    depends_on: Sequence[str] = ()
    cases: str | None = None


@dataclass(frozen=True)
class Suppressed:
    figures: dict[str, int | float | None]
    hidden: list[str] = field(default_factory=list)


def suppress(
    counts: Mapping[str, int],
    relations: Sequence[Relation] = (),
    derived: Mapping[str, float | None] | None = None,
    derived_rules: Sequence[Derived] = (),
    public: Mapping[str, int | float | None] | None = None,
    unpublished: Mapping[str, int] | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> Suppressed:
    """Publishable figures: `counts` (and `derived`) with small or recomputable ones set to None.

    `unpublished` holds cells that only take part in relations (e.g. "unplaced, not waitlisted"):
    they are never published but count as hidden parts. `public` figures (targets, dates) are
    published as they are.
    """
    values = {name: 0 for rel in relations for name in [rel.total, *rel.parts]}
    values.update(unpublished or {})
    values.update(counts)
    hidden = {name for name, value in counts.items() if value < threshold}
    hidden |= {name for name in values if name not in counts}

    changed = True
    while changed:
        changed = False
        for rel in relations:
            extra = _leak_fix(rel, values, hidden, threshold)
            if extra is not None:
                hidden.add(extra)
                changed = True

    figures: dict[str, int | float | None] = {name: (None if name in hidden else value) for name, value in counts.items()}
    for rule in derived_rules:
        value = (derived or {}).get(rule.name)
        small_cases = rule.cases is not None and values.get(rule.cases, 0) < threshold
        if value is None or small_cases or any(dep in hidden for dep in rule.depends_on):
            figures[rule.name] = None
            hidden.add(rule.name)
        else:
            figures[rule.name] = value
    figures.update(public or {})
    return Suppressed(figures, sorted(name for name in hidden if name in figures))


def _leak_fix(rel: Relation, values: Mapping[str, int], hidden: set[str], threshold: int) -> str | None:
    """The next figure to hide so this relation does not give away a small count, if any."""
    hidden_parts = [p for p in rel.parts if p in hidden]
    shown_parts = sorted((p for p in rel.parts if p not in hidden), key=lambda p: (values[p], p))
    if rel.total not in hidden:
        if hidden_parts and sum(values[p] for p in hidden_parts) < threshold:
            return shown_parts[0] if shown_parts else rel.total
        return None
    if not hidden_parts and values[rel.total] < threshold and shown_parts:
        return shown_parts[0]
    return None
