"""Group mode: every group goes whole to one suitable activity, or split into allowed parts.

Objective, in priority order: pupils placed, fewest splits, preference rank, travel distance (see
the weights in ``model``). The engine is a constructive heuristic (hardest groups first, each to
its best option with room, split only when no single option has room), followed by local
improvement (eject-and-move to place waitlisted groups, re-join splits, move groups to better
options). Its optimality gap is measured against the LP relaxation of the same candidate set,
solved by HiGHS: a valid lower bound on the cost of any allocation over those candidates.

Candidates: every suitable activity a group ranked, plus its ``max_candidates`` nearest other
suitable activities among its ``4 * max_candidates`` nearest activities (a parameter; reported in
the run's parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .model import (
    EARTH_RADIUS_KM, W_KM, W_PLACED, W_RANK, W_SPLIT, Activity, Allocation, Group, Part, Quality,
)  # fmt: skip

BIG = 1e9
EJECTION_BUDGET = 20_000  # moves tried per waitlisted group before giving up on it
EJECTION_TOTAL = 3_000_000  # moves tried by all ejection searches of one run (keeps x10 bounded)
LP_MAX_PAIRS = 60_000  # above this the bound ignores capacities (HiGHS needs minutes beyond)


@dataclass
class _Problem:
    groups: list[Group]
    activities: list[Activity]
    size: np.ndarray  # pupils per group
    cap: np.ndarray  # places per activity
    cands: list[np.ndarray]  # per group: candidate activity indices, best first
    dists: list[np.ndarray]  # per group: distance to each candidate
    ranks: list[np.ndarray]  # per group: rank of each candidate (len(preferences) if unranked)
    reasons: dict[int, str]  # group index -> why it has no candidate


def candidates(groups: list[Group], activities: list[Activity], max_candidates: int = 40) -> _Problem:
    """Suitable activities per group, best (rank, distance) first. Pure array code."""
    n_a = len(activities)
    if n_a == 0:
        activities = [Activity("", 0, 0.0, 0.0)]  # keeps the arrays non-empty; never suitable
    alat = np.array([a.lat for a in activities], dtype=float)
    alon = np.array([a.lon for a in activities], dtype=float)
    cap = np.array([max(0, a.capacity) for a in activities], dtype=np.int64)
    level_ix = {lv: i for i, lv in enumerate(sorted({g.level for g in groups} | {lv for a in activities for lv in a.levels}))}
    slot_ix = {s: i for i, s in enumerate(sorted({a.slot for a in activities}, key=lambda s: (s is None, s or "")))}
    all_levels = (1 << len(level_ix)) - 1
    alevels = np.array([sum(1 << level_ix[lv] for lv in a.levels) if a.levels else all_levels for a in activities], dtype=np.int64)
    amin = np.array([-BIG if a.min_age is None else a.min_age for a in activities], dtype=float)
    amax = np.array([BIG if a.max_age is None else a.max_age for a in activities], dtype=float)
    aslot = np.array([slot_ix[a.slot] for a in activities], dtype=np.int64)
    act_ix = {a.id: i for i, a in enumerate(activities)}

    n_g = len(groups)
    glevel = np.array([level_ix[g.level] for g in groups], dtype=np.int64)
    gmin = np.array([BIG if g.min_age is None else g.min_age for g in groups], dtype=float)
    gmax = np.array([-BIG if g.max_age is None else g.max_age for g in groups], dtype=float)
    gslots = np.array([(1 << len(slot_ix)) - 1 if g.slots is None else
                       sum(1 << slot_ix[s] for s in g.slots if s in slot_ix) for g in groups], dtype=np.int64)  # fmt: skip
    glimit = np.array([np.inf if g.max_travel_km is None else g.max_travel_km for g in groups], dtype=float)
    gneed = np.array([g.pupils if g.max_parts == 1 else g.min_part_size for g in groups], dtype=np.int64)
    gxyz = _unit(np.array([g.lat for g in groups], dtype=float), np.array([g.lon for g in groups], dtype=float))
    axyz = _unit(alat, alon)

    # Activities within each group's travel limit, from a k-d tree over unit vectors (chord radius).
    from scipy.spatial import cKDTree

    k = min(len(activities), 4 * max_candidates)
    # Groups of one school share a location: query each location once.
    locs, where = np.unique(gxyz, axis=0, return_inverse=True) if n_g else (gxyz, np.empty(0, np.int64))
    _, near = cKDTree(axyz).query(locs, k=k) if n_g else (None, np.empty((0, k), np.int64))
    near = np.asarray(near, dtype=np.int64).reshape(len(locs), k)[np.asarray(where).reshape(-1)]
    # Ranked activities count even when they are not among the nearest: extra columns.
    width = max((len(g.preferences) for g in groups), default=0)
    pref = np.full((n_g, width), -1, dtype=np.int64)
    for gi, g in enumerate(groups):
        row = list(dict.fromkeys(act_ix.get(a, -1) for a in g.preferences))
        pref[gi, : len(row)] = row  # a repeated choice counts at its best rank
    n_pref = np.array([len(g.preferences) for g in groups], dtype=np.int64)
    rank_near = np.where((near[:, :, None] == pref[:, None, :]).any(axis=2),
                         np.argmax(near[:, :, None] == pref[:, None, :], axis=2), n_pref[:, None]) if width else \
        np.broadcast_to(n_pref[:, None], near.shape)  # fmt: skip
    fresh = (pref >= 0) & ~(pref[:, :, None] == near[:, None, :]).any(axis=2)
    rank_pref = np.where(fresh, np.arange(width)[None, :], -1)
    idx = np.hstack([near, np.where(fresh, pref, 0)])
    rank = np.hstack([rank_near, rank_pref])
    valid = np.hstack([np.ones(near.shape, dtype=bool), fresh])
    d = 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.linalg.norm(axyz[idx] - gxyz[:, None, :], axis=2) / 2, 0, 1))
    ok = valid & ((alevels[idx] >> glevel[:, None]) & 1 == 1)
    ok &= (amin[idx] <= gmin[:, None]) & (amax[idx] >= gmax[:, None]) & ((gslots[:, None] >> aslot[idx]) & 1 == 1)
    ok &= (d <= glimit[:, None]) & (cap[idx] >= np.maximum(1, gneed)[:, None])
    # Best first: ranked by rank, the others by distance; keep every ranked one + max_candidates others.
    key = np.where(ok, rank * 1e6 + d, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    idx, d, rank, ok = (np.take_along_axis(m, order, axis=1) for m in (idx, d, rank, ok))
    n_ranked = (ok & (rank < n_pref[:, None])).sum(axis=1)
    count = np.minimum(ok.sum(axis=1), n_ranked + max_candidates)
    cands = [idx[g, : count[g]] for g in range(n_g)]
    dists = [d[g, : count[g]] for g in range(n_g)]
    ranks = [rank[g, : count[g]] for g in range(n_g)]
    reasons = {}
    for gi in np.flatnonzero(count == 0).tolist():
        reasons[gi] = _no_candidate_reason(groups[gi], activities, _all_distances(gxyz[gi], axyz)) if n_a else "there are no activities"
    size = np.array([g.pupils for g in groups], dtype=np.int64)
    return _Problem(groups, activities, size, cap, cands, dists, ranks, reasons)


def _all_distances(xyz: np.ndarray, axyz: np.ndarray) -> np.ndarray:
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.linalg.norm(axyz - xyz, axis=1) / 2, 0, 1))


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1).reshape(-1, 3)


def _no_candidate_reason(g: Group, activities: list[Activity], d: np.ndarray) -> str:
    from .model import unsuitability

    why = [unsuitability(g, a, float(di)) for a, di in zip(activities, d)]
    counts: dict[str, int] = {}
    for w in why:
        if w is not None:
            key = w.split(",")[0] if "km away" in w else w
            key = "beyond the travel limit" if "km away" in w else key
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "no suitable activity"
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    return "no suitable activity: " + "; ".join(f"{n} {k}" for k, n in top)


class _State:
    def __init__(self, p: _Problem):
        self.p = p
        # Free places below the smallest part a splittable group may form are of use only to a part
        # already there; placements avoid leaving such a useless rest behind when they can.
        self.useful = min((g.min_part_size for g, n in zip(p.groups, p.size) if _splittable(g, int(n))), default=0)
        self.remaining = p.cap.copy()
        self.parts: dict[int, list[tuple[int, int]]] = {}  # group -> [(candidate position, pupils)]
        self.at: list[set[int]] = [set() for _ in p.activities]  # activity -> groups (whole or part)
        self.budget = 0  # moves an ejection search may still try
        self.total_budget = EJECTION_TOTAL

    def place(self, g: int, parts: list[tuple[int, int]]) -> None:
        self.parts[g] = parts
        for pos, n in parts:
            a = int(self.p.cands[g][pos])
            self.remaining[a] -= n
            self.at[a].add(g)

    def remove(self, g: int) -> None:
        for pos, n in self.parts.pop(g):
            a = int(self.p.cands[g][pos])
            self.remaining[a] += n
            self.at[a].discard(g)

    def cost_of(self, g: int, pos: int) -> float:
        return W_RANK * self.p.ranks[g][pos] + W_KM * self.p.dists[g][pos]


def _splittable(g: Group, size: int) -> bool:
    return g.max_parts >= 2 and size >= 2 * g.min_part_size


def _best_whole(st: _State, g: int, exclude: int = -1) -> int:
    """Position of the best candidate with room for the whole group, or -1. Among those with room,
    the best one that leaves no useless rest (fewer free places than any part can use) wins."""
    c = st.p.cands[g]
    rem = st.remaining[c]
    room = np.flatnonzero(rem >= st.p.size[g])
    if st.useful > 1 and len(room):
        rest = rem[room] - st.p.size[g]
        room = np.concatenate([room[(rest == 0) | (rest >= st.useful)], room[(rest > 0) & (rest < st.useful)]])
    for pos in room:
        if c[pos] != exclude:
            return int(pos)
    return -1


def _split(st: _State, g: int) -> list[tuple[int, int]] | None:
    return _split_exact(st, g) or _split_greedy(st, g)


def _split_exact(st: _State, g: int, width: int = 12) -> list[tuple[int, int]] | None:
    """Parts that leave no useless rest behind: every part but one fills its activity exactly, the
    last one leaves nothing or a rest a part can use. Fewest parts first, then the best options
    (among the ``width`` best candidates with room for a part)."""
    grp, c, size = st.p.groups[g], st.p.cands[g], int(st.p.size[g])
    if not _splittable(grp, size):
        return None
    m = grp.min_part_size
    rem = st.remaining[c]
    usable = [int(x) for x in np.flatnonzero(rem >= m)[:width]]
    for k in range(2, grp.max_parts + 1):
        for combo in combinations(usable, k):
            room = [int(rem[q]) for q in combo]
            total = sum(room)
            if total < size:
                continue
            for last in range(k):
                n_last = size - (total - room[last])
                rest = room[last] - n_last
                if m <= n_last <= room[last] and (rest == 0 or rest >= st.useful):
                    return [(q, n_last if i == last else room[i]) for i, q in enumerate(combo)]
    return None


def _split_greedy(st: _State, g: int) -> list[tuple[int, int]] | None:
    grp, c, size = st.p.groups[g], st.p.cands[g], int(st.p.size[g])
    k_max, m = grp.max_parts, grp.min_part_size
    if k_max < 2 or size < 2 * m:
        return None
    rem = st.remaining[c]
    usable = np.flatnonzero(rem >= m)
    if len(usable) < 2:
        return None
    chosen: list[int] = []
    total = 0
    for pos in usable:  # best options first
        chosen.append(int(pos))
        total += int(rem[pos])
        if total >= size:
            break
    if total < size or len(chosen) > k_max:  # fall back to the roomiest options
        by_room = usable[np.argsort(-rem[usable], kind="stable")][:k_max]
        chosen = sorted(int(x) for x in by_room)
        if int(rem[chosen].sum()) < size:
            return None
    k = len(chosen)
    if k * m > size:
        return None
    amounts = [m] * k
    left = size - k * m
    for i, pos in enumerate(chosen):
        extra = min(left, int(rem[pos]) - m)
        amounts[i] += extra
        left -= extra
    parts = [(pos, n) for pos, n in zip(chosen, amounts) if n > 0]
    return parts if len(parts) >= 2 else None


def _try_place(st: _State, g: int) -> bool:
    pos = _best_whole(st, g)
    if pos >= 0:
        st.place(g, [(pos, int(st.p.size[g]))])
        return True
    parts = _split(st, g)
    if parts:
        st.place(g, parts)
        return True
    return False


def _move(st: _State, g: int, parts: list[tuple[int, int]] | None, journal: list) -> None:
    journal.append((g, st.parts.get(g)))
    if g in st.parts:
        st.remove(g)
    if parts:
        st.place(g, parts)


def _rollback(st: _State, journal: list) -> None:
    for g, old in reversed(journal):
        if g in st.parts:
            st.remove(g)
        if old:
            st.place(g, old)
    journal.clear()


def _make_room(st: _State, a: int, need: int, depth: int, busy: set[int], journal: list) -> bool:
    """Free ``need`` places at activity ``a`` by moving whole groups elsewhere (recursively)."""
    p = st.p
    movable = sorted((h for h in st.at[a] if h not in busy and len(st.parts[h]) == 1),
                     key=lambda h: (p.size[h] < need, p.size[h]))  # fmt: skip
    for h in movable:
        if st.remaining[a] >= need:
            return True
        for pos, b in enumerate(p.cands[h]):
            if b == a:
                continue
            st.budget -= 1
            if st.budget < 0:
                return False
            mark = len(journal)
            short = int(p.size[h]) - int(st.remaining[b])
            if short > 0 and (depth == 0 or not _make_room(st, int(b), int(p.size[h]), depth - 1, busy | {h}, journal)):
                _rollback_to(st, journal, mark)
                continue
            _move(st, h, [(pos, int(p.size[h]))], journal)
            break
    if st.remaining[a] < need:
        _shift_parts(st, a, need, busy, journal)
    return st.remaining[a] >= need


def _shift_parts(st: _State, a: int, need: int, busy: set[int], journal: list) -> None:
    """Free places at ``a`` by moving pupils of groups that may split into their other options:
    first into parts they already have (any room), then into new parts (room for at least the
    minimum part size), always within their split rules. This gathers the small leftovers that
    splitting scatters over many activities into one block where a whole group fits."""
    p = st.p
    for h in sorted(st.at[a] - busy):
        deficit = need - int(st.remaining[a])
        if deficit <= 0:
            return
        grp = p.groups[h]
        m = grp.min_part_size
        if grp.max_parts < 2:
            continue
        parts = dict(st.parts[h])
        here = next(pos for pos, n in parts.items() if p.cands[h][pos] == a)
        cur = parts[here]
        new = dict(parts)
        moved = 0
        goal = min(deficit, cur)
        for pos in sorted(parts, key=lambda q: -int(st.remaining[p.cands[h][q]])):  # existing parts
            if pos == here or moved >= goal:
                continue
            n = min(int(st.remaining[p.cands[h][pos]]), goal - moved)
            new[pos] += n
            moved += n
        for pos, b in enumerate(p.cands[h]):  # new parts
            if moved >= goal or len([q for q in new if new[q] > 0]) >= grp.max_parts + (cur - moved <= 0):
                break
            if pos in new or b == a:
                continue
            n = min(int(st.remaining[b]), max(goal - moved, m))
            if n >= m and moved + n <= cur:
                new[pos] = n
                moved += n
        if moved == 0:
            continue
        left = cur - moved
        if 0 < left < m:
            continue  # would leave a part below the minimum
        new[here] = left
        final = [(q, n) for q, n in sorted(new.items()) if n > 0]
        if len(final) > grp.max_parts or (len(final) > 1 and min(n for _, n in final) < m):
            continue
        _move(st, h, final, journal)


def _rollback_to(st: _State, journal: list, mark: int) -> None:
    tail = journal[mark:]
    del journal[mark:]
    _rollback(st, tail)


def _eject_and_place(st: _State, g: int, depth: int = 2) -> bool:
    """Place a waitlisted group whole by moving other groups out of the way (ejection chains)."""
    start = st.budget = min(EJECTION_BUDGET, st.total_budget)
    try:
        return _eject(st, g, depth, [])
    finally:
        st.total_budget -= start - max(0, st.budget)


def _eject(st: _State, g: int, depth: int, journal: list) -> bool:
    p, size = st.p, int(st.p.size[g])
    for pos, a in enumerate(p.cands[g]):
        if p.cap[a] < size:
            continue
        if _make_room(st, int(a), size, depth, {g}, journal):
            st.place(g, [(pos, size)])
            return True
        _rollback(st, journal)
    return False


def _improve(st: _State, order: list[int], passes: int = 3) -> None:
    """Re-join split groups, then move whole groups to better options with room."""
    for _ in range(passes):
        changed = False
        for g in order:
            parts = st.parts.get(g)
            if not parts:
                continue
            if len(parts) > 1:
                st.remove(g)
                pos = _best_whole(st, g)
                st.place(g, [(pos, int(st.p.size[g]))] if pos >= 0 else parts)
                changed |= pos >= 0
                continue
            cur = parts[0][0]
            c = st.p.cands[g]
            better = np.flatnonzero(st.remaining[c[:cur]] >= st.p.size[g])
            if len(better):
                st.remove(g)
                st.place(g, [(int(better[0]), int(st.p.size[g]))])
                changed = True
        if not changed:
            break


def _pack(st: _State, order: list[int], width: int = 40) -> None:
    """Fill activities rather than place groups: scarcest activity first (fewest groups could go
    there), each gets the set of unplaced groups, whole, that fills it best (a subset sum over the
    ``width`` hardest groups in reach, leaving nothing or a rest a part can use). With about two
    free places per activity nationally, wasted rests are what leaves pupils unplaced; packing
    per activity wastes far fewer than placing group by group."""
    p = st.p
    reach: list[list[tuple[int, int]]] = [[] for _ in p.activities]
    for g in order:  # hardest groups first in every list
        if g not in p.reasons:
            for pos, a in enumerate(p.cands[g]):
                reach[int(a)].append((g, pos))
    for a in sorted(range(len(p.activities)), key=lambda a: (len(reach[a]), a)):
        room = int(st.remaining[a])
        items = [(g, pos) for g, pos in reach[a] if g not in st.parts and p.size[g] <= room][:width]
        if not items:
            continue
        fills: dict[int, tuple[tuple[int, int], ...]] = {0: ()}  # total pupils -> the first set found
        for item in items:
            n = int(p.size[item[0]])
            for total in list(fills):
                if total + n <= room and total + n not in fills:
                    fills[total + n] = fills[total] + (item,)
        best = max((t for t in fills if room - t == 0 or room - t >= st.useful), default=0)
        for g, pos in fills[best]:
            st.place(g, [(pos, int(p.size[g]))])


def _complete(st: _State, order: list[int], on_step: Callable[[str], None]) -> None:
    """Place what is still waiting (whole, split, or by making room), then improve ranks and distances."""
    p = st.p
    on_step("placing groups, hardest first")
    waiting = [g for g in order if g not in p.reasons and g not in st.parts and not _try_place(st, g)]
    on_step(f"making room for {len(waiting)} waiting groups")
    still = [g for g in waiting if not _eject_and_place(st, g)]
    on_step("improving ranks and distances")
    _improve(st, order)
    for g in still:
        _try_place(st, g)


def lp_relaxation(p: _Problem, max_pairs: int = LP_MAX_PAIRS) -> tuple[float, float, list[np.ndarray] | None]:
    """LP relaxation over the candidate set (a transportation problem; HiGHS).

    Returns a lower bound on the cost of any allocation, an upper bound on pupils placed, and the
    LP's pupils per (group, candidate) -- the guide of the rounding step. Beyond ``max_pairs``
    candidate pairs it falls back to the (weaker, still valid) bound that ignores capacities.
    """
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix

    rows_g = np.concatenate([np.full(len(c), gi) for gi, c in enumerate(p.cands)]) if p.cands else np.empty(0)
    cols_a = np.concatenate(p.cands) if p.cands else np.empty(0)
    n = len(cols_a)
    total = float(p.size.sum())
    if n == 0:
        return W_PLACED * total, 0.0, None
    if n > max_pairs:  # capacity-free relaxation: every group at its cheapest candidate
        has = [g for g, c in enumerate(p.cands) if len(c)]
        placeable = float(sum(p.size[g] for g in has))
        cheapest = sum(float(p.size[g]) * float((W_RANK * p.ranks[g] + W_KM * p.dists[g]).min()) for g in has)
        return W_PLACED * (total - placeable) + cheapest, placeable, None
    cost = np.concatenate([W_RANK * r + W_KM * d for r, d in zip(p.ranks, p.dists)]) - W_PLACED
    var = np.arange(n)
    n_g, n_a = len(p.groups), len(p.activities)
    a_ub = csr_matrix(
        (np.ones(2 * n), (np.concatenate([rows_g, n_g + cols_a]).astype(np.int64), np.concatenate([var, var]))),
        shape=(n_g + n_a, n),
    )
    b_ub = np.concatenate([p.size, p.cap]).astype(float)
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if res.status != 0:
        return 0.0, total, None
    split_at = np.cumsum([len(c) for c in p.cands])[:-1]
    return W_PLACED * total + float(res.fun), float(res.x.sum()), np.split(res.x, split_at)


def _lp_parts(x: np.ndarray, group: Group, size: int) -> list[tuple[int, int]] | None:
    """The LP's placement of a group when it is a valid one (integral, whole, within split rules).
    A vertex of this transportation LP is integral, so most groups qualify."""
    if not len(x):
        return None
    used = np.flatnonzero(x > 1e-6)
    amounts = np.rint(x[used]).astype(np.int64)
    if np.abs(x[used] - amounts).max(initial=0) > 1e-6 or amounts.sum() != size or len(used) > group.max_parts:
        return None
    if len(used) > 1 and amounts.min() < group.min_part_size:
        return None
    return [(int(pos), int(n)) for pos, n in zip(used, amounts)]


def allocate_groups(
    groups: list[Group],
    activities: list[Activity],
    seed: int = 0,
    max_candidates: int = 40,
    with_bound: bool = True,
    on_step: Callable[[str], None] = lambda step: None,
) -> Allocation:
    """Allocate groups; ``on_step`` hears each stage's name (a command line shows progress)."""
    on_step("finding suitable activities")
    p = candidates(groups, activities, max_candidates)
    st = _State(p)
    rng = np.random.default_rng(seed)
    tiebreak = rng.permutation(len(groups))
    # Hardest first: fewest options that could take the whole group, then the largest groups.
    fits = np.array([int((p.cap[c] >= p.size[g]).sum()) for g, c in enumerate(p.cands)], dtype=np.int64)
    order = [int(g) for g in np.lexsort((tiebreak, -p.size, fits))]
    bound = max_placed = None
    guide = None
    if with_bound:
        on_step("solving the LP relaxation (bound)")
        bound, max_placed, guide = lp_relaxation(p)
    if guide is not None:  # LP rounding: every group the LP places within its split rules
        for g in order:
            parts = _lp_parts(guide[g], groups[g], int(p.size[g]))
            if parts and all(st.remaining[p.cands[g][pos]] >= n for pos, n in parts):
                st.place(g, parts)
    _complete(st, order, on_step)
    # A second start: activities packed with whole groups. The better of the two by the objective
    # (pupils placed, then splits, rank, distance) is the allocation.
    on_step("packing activities with whole groups")
    packed = _State(p)
    _pack(packed, order)
    _complete(packed, order, on_step)
    if _quality(p, packed, None, None).objective < _quality(p, st, None, None).objective:
        st = packed

    parts, waitlist = [], {}
    for g in range(len(groups)):
        refs = groups[g].pupil_refs
        start = 0
        for pos, n in st.parts.get(g, []):
            rank = int(p.ranks[g][pos])
            parts.append(Part(groups[g].id, activities[int(p.cands[g][pos])].id, n, round(float(p.dists[g][pos]), 3),
                              rank if rank < len(groups[g].preferences) else None, tuple(refs[start:start + n])))  # fmt: skip
            start += n
    for g in order:
        if g in p.reasons:
            waitlist[groups[g].id] = p.reasons[g]
        elif g not in st.parts:
            waitlist[groups[g].id] = "every suitable activity is full"
    quality = _quality(p, st, bound, max_placed)
    params = {"max_candidates": max_candidates, "weights": [W_PLACED, W_SPLIT, W_RANK, W_KM],
              "bound": None if bound is None else "lp" if guide is not None else "capacity_free"}  # fmt: skip
    built = (tuple(parts), waitlist, {})
    return Allocation("groups", quality, seed, params, lambda: built)


def _quality(p: _Problem, st: _State, bound: float | None, max_placed: float | None) -> Quality:
    total = int(p.size.sum())
    placed = sum(int(p.size[g]) for g in st.parts)
    splits = sum(len(v) - 1 for v in st.parts.values())
    pupil_km = [(n, float(p.dists[g][pos])) for g, v in st.parts.items() for pos, n in v]
    first = sum(n for g, v in st.parts.items() for pos, n in v if p.ranks[g][pos] == 0 and p.groups[g].preferences)
    with_prefs = sum(int(p.size[g]) for g in st.parts if p.groups[g].preferences)
    cost = W_PLACED * (total - placed) + W_SPLIT * splits
    cost += sum(n * st.cost_of(g, pos) for g, v in st.parts.items() for pos, n in v)
    gap = placed_gap = None
    if bound is not None:
        gap = max(0.0, (cost - bound) / cost) if cost > 0 else 0.0
        placed_gap = max(0.0, (max_placed - placed) / max_placed) if max_placed > 0 else 0.0
    km = [d for _, d in pupil_km]
    return Quality(
        placed_pupils=placed,
        unplaced_pupils=total - placed,
        placed_ratio=placed / total if total else 1.0,
        first_choice_ratio=first / with_prefs if with_prefs else None,
        splits=splits,
        mean_distance_km=sum(n * d for n, d in pupil_km) / placed if placed else None,
        max_distance_km=max(km) if km else None,
        objective=cost,
        bound=bound,
        optimality_gap=gap,
        placed_gap=placed_gap,
    )
