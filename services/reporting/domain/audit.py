"""The disclosure audit: can anyone work out a small count from what was published?

The observer knows the method (threshold, rounding base, the additive relations between figures)
and sees every published snapshot. For one snapshot, the true counts consistent with it are the
non-negative integers with: a published count `p` stands for a value of at least the threshold
that rounds to `p`; a hidden count for any value; every relation (`total = parts`, unpublished
parts included) holds. Integer programming (HiGHS, through scipy) gives each count's range. The
difference of two snapshots ranges over the difference of their ranges (values may change in any
way in between).

A count below the threshold, zero included, is *disclosed* when its range holds fewer than
`protection` values; so is a change of a count by less than the threshold between any two
snapshots. `audit` returns every disclosure it finds, with the truth and the range, so a test (or
an operator replaying a stream of partner events) sees what leaked and how.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from .suppression import Relation

Figures = Mapping[str, int | float | None]
LARGE = 10**9


@dataclass(frozen=True)
class Disclosure:
    kind: str  # "count" (in one snapshot) or "change" (between two)
    figure: str
    snapshots: tuple[int, ...]
    true: int
    low: float
    high: float

    def __str__(self) -> str:
        at = " -> ".join(f"#{i}" for i in self.snapshots)
        return f"{self.kind} of {self.figure} at {at}: true {self.true}, worked out to {self.low:g}..{self.high:g}"


def value_range(published: int, threshold: int, base: int) -> tuple[int, int]:
    """The true values a published (rounded, shown) count can stand for."""
    low = published - base // 2
    high = published + math.ceil(base / 2) - 1
    return max(low, threshold), high


def ranges(
    figures: Figures, counts: Sequence[str], relations: Sequence[Relation], threshold: int, base: int
) -> dict[str, tuple[float, float]]:
    """Each count's range of true values consistent with one published snapshot."""
    names = sorted({*counts, *(n for r in relations for n in (r.total, *r.parts))})
    index = {name: i for i, name in enumerate(names)}
    low = np.zeros(len(names))
    high = np.full(len(names), LARGE)  # a hidden count: any value (bounded, so HiGHS always answers)
    for name in counts:
        if figures.get(name) is not None:
            low[index[name]], high[index[name]] = value_range(int(figures[name]), threshold, base)
    rows = []
    for rel in relations:
        row = np.zeros(len(names))
        row[index[rel.total]] = 1
        for part in rel.parts:
            row[index[part]] -= 1
        rows.append(row)
    constraints = [LinearConstraint(np.array(rows), 0, 0)] if rows else []
    out = {}
    for name in counts:
        bounds = []
        for sign in (1, -1):
            objective = np.zeros(len(names))
            objective[index[name]] = sign
            result = milp(objective, integrality=np.ones(len(names)), bounds=Bounds(low, high), constraints=constraints)
            if result.status != 0:
                raise ValueError(f"snapshot inconsistent with the method ({result.message}): {dict(figures)}")
            bounds.append(sign * result.fun)
        out[name] = (bounds[0], math.inf if bounds[1] >= LARGE else bounds[1])
    return out


def audit(
    published: Sequence[Figures],
    truths: Sequence[Mapping[str, int]],
    counts_of: Callable[[Figures], Sequence[str]],
    relations_of: Callable[[Figures], Sequence[Relation]],
    *,
    threshold: int,
    base: int,
    protection: int,
) -> list[Disclosure]:
    """Every small count or small change that the published snapshots pin down to fewer than
    `protection` values. `truths[i]` holds the true value of every count (and unpublished part)
    when `published[i]` was published."""
    found: list[Disclosure] = []
    seen = [ranges(f, counts_of(f), relations_of(f), threshold, base) for f in published]
    for i, (snapshot, truth) in enumerate(zip(seen, truths)):
        for name, (low, high) in snapshot.items():
            if truth[name] < threshold and high - low + 1 < protection:
                found.append(Disclosure("count", name, (i,), truth[name], low, high))
    for i, j in combinations(range(len(published)), 2):
        for name in seen[i].keys() & seen[j].keys():
            change = truths[j][name] - truths[i][name]
            low = seen[j][name][0] - seen[i][name][1]
            high = seen[j][name][1] - seen[i][name][0]
            if 0 < abs(change) < threshold and high - low + 1 < protection:
                found.append(Disclosure("change", name, (i, j), change, low, high))
    return found
