"""Individual mode: pupils rank activities; activities rank pupils by distance band, then lottery.

``deferred_acceptance`` is pupil-proposing deferred acceptance (Gale-Shapley): stable and
strategy-proof for pupils, and the pupil-optimal stable matching. It runs in rounds over numpy
arrays: every free pupil proposes to her next choice at once, and each activity keeps its best
``capacity`` proposals (one lexsort per round).

``max_placed=True`` then places more pupils along short augmenting paths (a pupil takes a seat
whose occupant moves on to another of her listed activities with room). That can create blocking
pairs; the run reports how many remain.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain, repeat

import numpy as np

from .model import EARTH_RADIUS_KM, Activity, Allocation, Part, Pupil, Quality


def unit_vectors(lat, lon) -> np.ndarray:
    la, lo = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


class Priorities:
    """Preference and priority arrays of an instance (shared by the engine, checker, explanations)."""

    def __init__(self, pupils: list[Pupil], activities: list[Activity], seed: int, band_km: float):
        self.pupils, self.activities = pupils, activities
        ix = {a.id: i for i, a in enumerate(activities)}
        self.cap = np.array([max(0, a.capacity) for a in activities], dtype=np.int64)
        n = len(pupils)
        lengths = np.fromiter((len(p.preferences) for p in pupils), dtype=np.int64, count=n)
        flat_ids = list(chain.from_iterable(p.preferences for p in pupils))
        flat = np.fromiter(map(ix.get, flat_ids, repeat(-1)), dtype=np.int64, count=len(flat_ids))
        row = np.repeat(np.arange(n), lengths)
        keep = flat >= 0  # unknown activities are ignored
        row, flat = row[keep], flat[keep]
        pair = row * max(1, len(activities)) + flat
        if len(pair) and (np.diff(np.sort(pair)) == 0).any():  # a repeated choice counts once, first
            _, first = np.unique(pair, return_index=True)
            first.sort()
            row, flat = row[first], flat[first]
        counts = np.bincount(row, minlength=n)
        col = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
        prefs = np.full((n, max(1, int(counts.max(initial=0)))), -1, dtype=np.int64)
        prefs[row, col] = flat
        self.prefs = prefs
        rng = np.random.default_rng(seed)
        self.lottery = rng.permutation(n).astype(np.int64)
        valid = prefs >= 0
        safe = np.where(valid, prefs, 0)
        act_xyz = unit_vectors([a.lat for a in activities] or [0.0], [a.lon for a in activities] or [0.0])
        pup_xyz = unit_vectors([p.lat for p in pupils], [p.lon for p in pupils])
        chord = np.zeros(prefs.shape)
        for axis in range(3):  # great-circle distance from the chord between unit vectors
            chord += (pup_xyz[:, axis, None] - act_xyz[safe, axis]) ** 2
        self.dist = np.where(valid, 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(chord) / 2)), np.nan)
        self.band = np.where(valid, np.floor(np.nan_to_num(self.dist) / band_km), 0).astype(np.int64)
        # Lower key = higher priority at that activity: distance band first, then the lottery.
        self.key = np.where(valid, self.band * (n + 1) + self.lottery[:, None], np.iinfo(np.int64).max)


def deferred_acceptance(pr: Priorities) -> np.ndarray:
    """Activity index per pupil (-1 = unplaced)."""
    n, width = pr.prefs.shape
    nxt = np.zeros(n, dtype=np.int64)
    held = np.full(n, -1, dtype=np.int64)
    # A pupil's key is unique at an activity (the lottery breaks every tie), so (activity, key)
    # packed in one int64 sorts contenders and still tells who they are.
    who = np.empty(n + 1, dtype=np.int64)
    who[pr.lottery] = np.arange(n)
    cur = np.zeros(n, dtype=np.int64)  # packed (activity, key) of each held pupil's proposal
    free = np.arange(n)
    hold_p = np.empty(0, dtype=np.int64)
    while len(free):
        free = free[nxt[free] < width]
        choice = pr.prefs[free, nxt[free]]
        keep = choice >= 0
        free, choice = free[keep], choice[keep]
        if not len(free):
            break
        cur[free] = (choice << 32) | pr.key[free, nxt[free]]
        nxt[free] += 1
        touched = np.zeros(len(pr.cap), dtype=bool)
        touched[choice] = True
        stay = ~touched[held[hold_p]]
        kept = hold_p[stay]
        packed = np.sort(np.concatenate([cur[hold_p[~stay]], cur[free]]))
        c_a = packed >> 32
        c_p = who[(packed & 0xFFFFFFFF) % (n + 1)]
        first = np.searchsorted(c_a, c_a, side="left")
        accepted = (np.arange(len(c_a)) - first) < pr.cap[c_a]
        held[c_p[~accepted]] = -1
        held[c_p[accepted]] = c_a[accepted]
        hold_p = np.concatenate([kept, c_p[accepted]])
        free = c_p[~accepted]
    return held


def blocking_pairs(pr: Priorities, held: np.ndarray) -> int:
    """Pairs (pupil, activity she prefers to her own) where the activity has room or holds a pupil
    it ranks below her."""
    n, width = pr.prefs.shape
    if len(pr.cap) == 0:  # no activity at all: nobody can prefer one
        return 0
    counts = np.bincount(held[held >= 0], minlength=len(pr.cap))
    worst = np.full(len(pr.cap), -1, dtype=np.int64)
    rows = np.flatnonzero(held >= 0)
    if len(rows):
        pos = np.argmax(pr.prefs[rows] == held[rows, None], axis=1)
        np.maximum.at(worst, held[rows], pr.key[rows, pos])
    own = np.full(n, width, dtype=np.int64)
    if len(rows):
        own[rows] = pos
    better = (np.arange(width)[None, :] < own[:, None]) & (pr.prefs >= 0)
    a = np.where(better, pr.prefs, 0)
    room = (counts[a] < pr.cap[a]) & (pr.cap[a] > 0)
    beats = pr.key < worst[a]
    return int((better & (room | beats)).sum())


def _max_placed(pr: Priorities, held: np.ndarray, max_depth: int = 2) -> np.ndarray:
    """Place unplaced pupils along short augmenting paths through listed activities: a pupil takes
    a seat at a full activity whose occupant (lowest priority first) moves on to another of her
    listed activities with room (up to ``max_depth`` moves). Shortest paths first, so few stable
    placements change; each change may leave a blocking pair, which the run then counts."""
    held = held.copy()
    prefs = [[a for a in row if a >= 0] for row in pr.prefs.tolist()]
    keys = pr.key.tolist()
    room = (pr.cap - np.bincount(held[held >= 0], minlength=len(pr.cap))).tolist()
    occupants: list[list[int]] = [[] for _ in room]
    for q, a in enumerate(held.tolist()):
        if a >= 0:
            occupants[a].append(q)

    def key_at(q: int, a: int) -> int:
        return keys[q][prefs[q].index(a)]

    def path(p: int, depth: int, seen: set[int]) -> list[tuple[int, int]] | None:
        for a in prefs[p]:
            if room[a] > 0:
                return [(p, a)]
        if depth == 0:
            return None
        for a in prefs[p]:
            if a in seen:
                continue
            seen.add(a)
            for q in sorted(occupants[a], key=lambda q: -key_at(q, a)):
                rest = path(q, depth - 1, seen)
                if rest:
                    return [(p, a)] + rest
        return None

    for limit in range(max_depth + 1):  # shortest paths first
        for p in np.flatnonzero(held < 0).tolist():
            steps = path(p, limit, set())
            for q, a in reversed(steps or []):  # the last mover first frees the seat before her
                if held[q] >= 0:
                    occupants[held[q]].remove(q)
                    room[held[q]] += 1
                held[q] = a
                occupants[a].append(q)
                room[a] -= 1
    return held


def allocate_pupils(
    pupils: list[Pupil],
    activities: list[Activity],
    seed: int = 0,
    band_km: float = 10.0,
    max_placed: bool = False,
    part_per_pupil: bool = False,
) -> Allocation:
    """Pupil ids must be unique: the waiting list and the assignment are keyed by them.
    ``part_per_pupil``: one part per placed pupil (her exact distance and rank) instead of one per
    (group, activity); the assignment is the same."""
    if len({p.id for p in pupils}) != len(pupils):
        twice = sorted(i for i, n in Counter(p.id for p in pupils).items() if n > 1)
        raise ValueError(f"pupil ids must be unique; more than once: {', '.join(twice[:5])}")
    pr = Priorities(pupils, activities, seed, band_km)
    held = deferred_acceptance(pr)
    if max_placed:
        held = _max_placed(pr, held)
    return _result(pr, held, seed, {"band_km": band_km, "max_placed": max_placed}, part_per_pupil)


def _result(pr: Priorities, held: np.ndarray, seed: int, params: dict, part_per_pupil: bool = False) -> Allocation:
    pupils, activities = pr.pupils, pr.activities
    rows = np.flatnonzero(held >= 0)
    pos = np.argmax(pr.prefs[rows] == held[rows, None], axis=1) if len(rows) else np.empty(0, np.int64)
    dist = pr.dist[rows, pos] if len(rows) else np.empty(0)

    def build() -> tuple[tuple[Part, ...], dict[str, str], dict[str, str]]:
        grouped: dict[tuple[str, int, int], list[int]] = {}
        for k, (r, a) in enumerate(zip(rows.tolist(), held[rows].tolist())):
            grouped.setdefault((pupils[r].group_id or pupils[r].id, a, r if part_per_pupil else -1), []).append(k)
        pos_l, dist_l, rows_l = pos.tolist(), dist.tolist(), rows.tolist()
        parts = []
        for (gid, a, _), ks in grouped.items():
            ranks = {pos_l[k] for k in ks}
            d = sum(dist_l[k] for k in ks) / len(ks)
            refs = tuple(pupils[rows_l[k]].ref or pupils[rows_l[k]].id for k in ks)
            parts.append(Part(gid, activities[a].id, len(ks), round(d, 3), ranks.pop() if len(ranks) == 1 else None, refs))
        waitlist = {}
        for r in np.flatnonzero(held < 0).tolist():
            has = bool(pr.prefs[r, 0] >= 0)
            waitlist[pupils[r].id] = "every listed activity is full" if has else "no listed activity exists"
        assignment = {pupils[r].id: activities[a].id for r, a in zip(rows_l, held[rows].tolist())}
        return tuple(parts), waitlist, assignment

    with_prefs = int((pr.prefs[:, 0] >= 0).sum())
    n = len(pupils)
    quality = Quality(
        placed_pupils=len(rows),
        unplaced_pupils=n - len(rows),
        placed_ratio=len(rows) / n if n else 1.0,
        first_choice_ratio=float((pos == 0).sum()) / with_prefs if with_prefs else None,
        splits=0,
        mean_distance_km=float(dist.mean()) if len(rows) else None,
        max_distance_km=float(dist.max()) if len(rows) else None,
        blocking_pairs=blocking_pairs(pr, held),
    )
    return Allocation("individual", quality, seed, params, build)
