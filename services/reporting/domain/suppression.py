"""Disclosure control of public figures: small counts hidden, the rest rounded to a base.

The method (docs/privacy.md, "Disclosure control"), for everything that leaves the staff's hands:
1. *Primary suppression*: every count under the threshold is hidden (zero too: "nobody" is a
   small count).
2. *Secondary suppression*: no hidden small count can be recomputed from published figures: for
   each additive relation `total = part + part + ...` whose total is published, the sum of the
   hidden parts (total minus the published parts) must not be small; and a hidden total must not be
   the sum of all-published parts when it is small. Where a relation would leak, the smallest
   published part (or else the total) is hidden too, until no relation leaks. Parts that are never
   published (e.g. "unplaced but not waitlisted") count as hidden.
3. *Rounding to a base*: every published count is rounded to the nearest multiple of `base`
   (half up), so neither one figure, nor sums and margins, nor the difference of two snapshots
   (published at any two moments) pins down a small count: each published value stands for `base`
   possible true values. Ratios and means are computed from the published (rounded) counts.

`services/reporting/domain/audit.py` checks a series of published snapshots against the truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 10
DEFAULT_BASE = 5


@dataclass(frozen=True)
class Relation:
    total: str
    parts: Sequence[str]


@dataclass(frozen=True)
class Suppressed:
    figures: dict[str, int | float | None]
    hidden: list[str] = field(default_factory=list)


def round_to_base(value: int, base: int) -> int:
    """The nearest multiple of `base` (halves up): 12 -> 10, 13 -> 15 for base 5."""
    return base * ((2 * value + base) // (2 * base))


def suppress(
    counts: Mapping[str, int],
    relations: Sequence[Relation] = (),
    public: Mapping[str, int | float | None] | None = None,
    unpublished: Mapping[str, int] | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    base: int = 1,
) -> Suppressed:
    """Publishable figures: `counts` with small or recomputable ones set to None, the others
    rounded to `base`.

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

    figures: dict[str, int | float | None] = {
        name: (None if name in hidden else round_to_base(value, base)) for name, value in counts.items()
    }
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
