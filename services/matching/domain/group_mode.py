"""Group mode: every group goes whole to one suitable activity, or split into allowed parts.

Objective, in priority order: pupils placed, fewest splits, preference rank, travel distance (see
the weights in ``model``). The engine starts twice (LP rounding; activities packed with whole
groups), completes each (hardest groups first, each to its best option with room, split only when
no single option has room; waiting groups placed by chains of moves that shift free places across
the map; re-join splits, move groups to better options) and keeps the better, on which short chains
then re-join split groups and move groups to better-ranked options. Its optimality gap is
measured against the LP relaxation of the same candidate set, solved by HiGHS: a valid lower bound
on the cost of any allocation over those candidates.

Candidates: every suitable activity a group ranked, plus its ``max_candidates`` nearest other
suitable activities among its ``4 * max_candidates`` nearest activities (a parameter; reported in
the run's parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from .model import (
    EARTH_RADIUS_KM,
    UNRANKED_COST,
    W_KM,
    W_PLACED,
    W_RANK,
    W_SLOT,
    W_SPLIT,
    Activity,
    Allocation,
    Group,
    Part,
    Quality,
)  # fmt: skip

BIG = 1e9
CHAIN_STATES = 3_000  # states one chain search may expand
CHAIN_STATES_PER_GROUP = 30  # states all chain searches of one start may expand, per group
SHORT_CHAIN_STATES = 30  # states one search may expand when it only improves (re-join, better rank)
MAX_RANKED = 40  # options that meet a preference kept per group, best first (besides max_candidates others)
# Above this many candidate pairs the engine skips the LP (its rounding start and its bound): on the
# national instance with ranked sectors (16-18k pairs) HiGHS takes 1-2 s and the packing start won
# on every seed; the bound is then the capacity-free one, with the pupils placed by a maximum flow.
LP_MAX_PAIRS = 10_000


@dataclass
class _Problem:
    groups: list[Group]
    activities: list[Activity]
    size: np.ndarray  # pupils per group
    cap: np.ndarray  # places per activity
    cands: list[np.ndarray]  # per group: candidate activity indices, best first
    dists: list[np.ndarray]  # per group: distance to each candidate
    ranks: list[np.ndarray]  # per group: preference level each candidate meets (group.levels if none)
    reasons: dict[int, str]  # group index -> why it has no candidate
    prefc: list[np.ndarray] = None  # per group: per-pupil cost of each candidate's slot and preference
    costs: list[np.ndarray] = None  # per group: per-pupil cost of each candidate (prefc + distance)
    levels: np.ndarray = None  # per group: its number of preference levels


def rank_cost(level: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Rank steps of a preference level: 0, 1, 2 for the top three, 3 for any later preference,
    ``UNRANKED_COST`` for an option that meets none."""
    return np.where(level < levels, np.minimum(level, UNRANKED_COST - 1), UNRANKED_COST)


def candidates(groups: list[Group], activities: list[Activity], max_candidates: int = 40, max_ranked: int = MAX_RANKED) -> _Problem:
    """Suitable activities per group, best (slot, preference, distance) first. Pure array code."""
    n_a = len(activities)
    if n_a == 0:
        activities = [Activity("", 0, 0.0, 0.0)]  # keeps the arrays non-empty; never suitable
    alat = np.array([a.lat for a in activities], dtype=float)
    alon = np.array([a.lon for a in activities], dtype=float)
    cap = np.array([max(0, a.capacity) for a in activities], dtype=np.int64)
    level_ix = {lv: i for i, lv in enumerate(sorted({g.level for g in groups} | {lv for a in activities for lv in a.levels}))}
    slots = {a.slot for a in activities} | {g.preferred_slot for g in groups if g.preferred_slot is not None}
    slot_ix = {s: i for i, s in enumerate(sorted(slots, key=lambda s: (s is None, s or "")))}
    sector_ix = {s: i for i, s in enumerate(sorted({a.sector for a in activities if a.sector} | {s for g in groups for s in g.sectors}))}
    all_levels = (1 << len(level_ix)) - 1
    alevels = np.array([sum(1 << level_ix[lv] for lv in a.levels) if a.levels else all_levels for a in activities], dtype=np.int64)
    amin = np.array([-BIG if a.min_age is None else a.min_age for a in activities], dtype=float)
    amax = np.array([BIG if a.max_age is None else a.max_age for a in activities], dtype=float)
    aslot = np.array([slot_ix[a.slot] for a in activities], dtype=np.int64)
    asector = np.array([sector_ix.get(a.sector, len(sector_ix)) for a in activities], dtype=np.int64)  # last: none
    act_ix = {a.id: i for i, a in enumerate(activities)}

    n_g = len(groups)
    glevel = np.array([level_ix[g.level] for g in groups], dtype=np.int64)
    gmin = np.array([BIG if g.min_age is None else g.min_age for g in groups], dtype=float)
    gmax = np.array([-BIG if g.max_age is None else g.max_age for g in groups], dtype=float)
    gslots = np.array([(1 << len(slot_ix)) - 1 if g.slots is None else
                       sum(1 << slot_ix[s] for s in g.slots if s in slot_ix) for g in groups], dtype=np.int64)  # fmt: skip
    gpslot = np.array([-1 if g.preferred_slot is None else slot_ix[g.preferred_slot] for g in groups], dtype=np.int64)
    glimit = np.array([np.inf if g.max_travel_km is None else g.max_travel_km for g in groups], dtype=float)
    gneed = np.array([g.pupils if g.max_parts == 1 else g.min_part_size for g in groups], dtype=np.int64)
    n_levels = np.array([g.levels for g in groups], dtype=np.int64)
    # The level each sector meets for each group (its own count of levels where none).
    sector_level = np.repeat(n_levels[:, None], len(sector_ix) + 1, axis=1)
    for gi, g in enumerate(groups):
        for s in reversed(g.sectors):  # a repeated sector counts at its best rank
            sector_level[gi, sector_ix[s]] = len(g.preferences) + g.sectors.index(s)
    gxyz = _unit(np.array([g.lat for g in groups], dtype=float), np.array([g.lon for g in groups], dtype=float))
    axyz = _unit(alat, alon)

    # Activities within each group's travel limit, from a k-d tree over unit vectors (chord radius).
    from scipy.spatial import cKDTree

    k = min(len(activities), 4 * max_candidates)
    # Groups of one school share a location: query each location once.
    locs, where = np.unique(gxyz, axis=0, return_inverse=True) if n_g else (gxyz, np.empty(0, np.int64))
    _, near = cKDTree(axyz).query(locs, k=k) if n_g else (None, np.empty((0, k), np.int64))
    near = np.asarray(near, dtype=np.int64).reshape(len(locs), k)[np.asarray(where).reshape(-1)]
    # Named activities count even when they are not among the nearest: extra columns. A repeated
    # or unknown name keeps its position (levels are positions in the group's list).
    width = max((len(g.preferences) for g in groups), default=0)
    pref = np.full((n_g, width), -1, dtype=np.int64)
    for gi, g in enumerate(groups):
        seen: set[int] = set()
        for j, a in enumerate(g.preferences):
            ix = act_ix.get(a, -1)
            if ix >= 0 and ix not in seen:
                pref[gi, j] = ix
                seen.add(ix)
    named = (near[:, :, None] == pref[:, None, :]) if width else np.zeros((*near.shape, 1), dtype=bool)
    rank_near = np.where(named.any(axis=2), np.argmax(named, axis=2), n_levels[:, None])
    rank_near = np.minimum(rank_near, np.take_along_axis(sector_level, asector[near], axis=1))
    fresh = (pref >= 0) & ~(pref[:, :, None] == near[:, None, :]).any(axis=2)
    rank_pref = np.where(fresh, np.arange(width)[None, :], n_levels[:, None])
    idx = np.hstack([near, np.where(fresh, pref, 0)])
    rank = np.hstack([rank_near, rank_pref])
    valid = np.hstack([np.ones(near.shape, dtype=bool), fresh])
    d = 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.linalg.norm(axyz[idx] - gxyz[:, None, :], axis=2) / 2, 0, 1))
    ok = valid & ((alevels[idx] >> glevel[:, None]) & 1 == 1)
    ok &= (amin[idx] <= gmin[:, None]) & (amax[idx] >= gmax[:, None]) & ((gslots[:, None] >> aslot[idx]) & 1 == 1)
    ok &= (d <= glimit[:, None]) & (cap[idx] >= np.maximum(1, gneed)[:, None])
    miss = (gpslot[:, None] >= 0) & (aslot[idx] != gpslot[:, None])
    steps = rank_cost(rank, n_levels[:, None])
    # Best first: same slot, then preference, then distance; keep the best ``max_ranked`` options
    # that meet a preference and ``max_candidates`` others.
    key = np.where(ok, miss * 1e12 + steps * 1e6 + d, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    idx, d, rank, ok, miss, steps = (np.take_along_axis(m, order, axis=1) for m in (idx, d, rank, ok, miss, steps))
    n_ranked = np.minimum((ok & (rank < n_levels[:, None])).sum(axis=1), max_ranked)
    count = np.minimum(ok.sum(axis=1), n_ranked + max_candidates)
    cands = [idx[g, : count[g]] for g in range(n_g)]
    dists = [d[g, : count[g]] for g in range(n_g)]
    ranks = [rank[g, : count[g]] for g in range(n_g)]
    prefc = [W_SLOT * miss[g, : count[g]] + W_RANK * steps[g, : count[g]] for g in range(n_g)]
    costs = [pc + W_KM * dd for pc, dd in zip(prefc, dists)]
    reasons = {}
    for gi in np.flatnonzero(count == 0).tolist():
        reasons[gi] = _no_candidate_reason(groups[gi], activities, _all_distances(gxyz[gi], axyz)) if n_a else "there are no activities"
    size = np.array([g.pupils for g in groups], dtype=np.int64)
    return _Problem(groups, activities, size, cap, cands, dists, ranks, reasons, prefc, costs, n_levels)


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
        self.chain_budget = max(CHAIN_STATES, CHAIN_STATES_PER_GROUP * len(p.groups))  # keeps x10 bounded
        self.cand_cap = [p.cap[c] for c in p.cands]

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
        return self.p.costs[g][pos]


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


def _move(st: _State, g: int, parts: list[tuple[int, int]], journal: list) -> None:
    journal.append((g, st.parts[g]))
    st.remove(g)
    st.place(g, parts)


def _rollback(st: _State, journal: list) -> None:
    for g, old in reversed(journal):
        st.remove(g)
        st.place(g, old)
    journal.clear()


# Placing a waiting group by a chain of moves. Nationally the free places are not only scattered
# (1-4 per activity) but lie in the wrong regions: a waiting group's ~40 candidates are all full,
# while places stay free an hour's drive away. A chain shifts places across the map: the group
# goes to activity a0, some group at a0 moves to a1, one at a1 to a2, ..., the last one into free
# places. A search over states (activity, places still needed there), breadth first, finds the
# shortest such chain; an activity is expanded again only with fewer places needed.


def _outflows(st: _State, h: int, a: int, need: int, partial: bool) -> tuple[int, dict[int, int], list] | None:
    """How group ``h`` can move pupils out of activity ``a``: its position there, its parts, and
    [(pupils, into one of its other parts)], within its split rules. At least ``need`` pupils
    leave unless ``partial`` (then as many as the part has, or ``need`` at most by a split)."""
    p = st.p
    parts = dict(st.parts[h])
    grp = p.groups[h]
    m = grp.min_part_size
    here = next(pos for pos in parts if p.cands[h][pos] == a)
    n = parts[here]
    if n < need and not partial:
        return None
    want = min(need, n)
    ways = [(n, False)]  # the whole part to an activity where the group has none
    if grp.max_parts > len(parts) and n - max(want, m) >= m:  # a new part, the rest stays
        ways.append((max(want, m), False))
    if len(parts) > 1:  # into another part of the group; a rest below the minimum goes too
        ways.append((want if n - want == 0 or n - want >= m else n, True))
    return here, parts, ways


def _chain(
    st: _State, g: int, sources: list[tuple[int, int]], partial: bool = False, states: int = CHAIN_STATES
) -> tuple[int, list] | None:
    """The shortest chain of moves that frees ``need`` places at one of the ``sources``
    [(activity, need)], as (that activity, [(group, from position, to position, pupils)]), or
    None. No activity and no group occurs twice in a chain, so applying it keeps every rule."""
    p, rem = st.p, st.remaining
    best = np.full(len(p.activities), np.iinfo(np.int64).max)  # fewest places needed, per activity
    parent: dict[tuple[int, int], tuple | None] = {}
    frontier = []
    for a, need in sources:
        if need < best[a]:
            best[a] = need
            parent[(a, need)] = None
            frontier.append((a, need))
    starts = {a for a, _ in sources}
    budget = min(states, st.chain_budget)
    while frontier and budget > 0:
        nxt = []
        for state in frontier:
            a, need = state
            if best[a] < need:
                continue
            if budget <= 0:
                break
            budget -= 1
            st.chain_budget -= 1
            on_path = groups_on_path = None
            for h in sorted(st.at[a] - {g}):
                out = _outflows(st, h, a, need, partial and parent[state] is None)
                if out is None:
                    continue
                if on_path is None:
                    on_path, groups_on_path = _on_path(parent, state)
                if h in groups_on_path:
                    continue
                here, parts, ways = out
                c = p.cands[h]
                has = np.zeros(len(c), dtype=bool)
                has[list(parts)] = True
                free, best_c, cap_c, elsewhere = rem[c], best[c], st.cand_cap[h], c != a
                for n, existing in ways:
                    ok = (has if existing else ~has) & elsewhere & (cap_c >= n)
                    short = n - free  # places still needed at each destination
                    for q in np.nonzero(ok & (short <= 0))[0].tolist():
                        if int(c[q]) not in on_path and int(c[q]) not in starts:
                            return _chain_moves(parent, state, (h, here, q, n))
                    for q in np.nonzero(ok & (short < best_c))[0].tolist():
                        b, left = int(c[q]), int(short[q])
                        if left < best[b] and b not in on_path and b not in starts:
                            best[b] = left
                            parent[(b, left)] = (state, (h, here, q, n))
                            nxt.append((b, left))
        frontier = nxt
    return None


def _on_path(parent: dict, state: tuple[int, int]) -> tuple[set[int], set[int]]:
    activities, groups = {state[0]}, set()
    while parent[state] is not None:
        state, (h, *_) = parent[state]
        activities.add(state[0])
        groups.add(h)
    return activities, groups


def _chain_moves(parent: dict, state: tuple[int, int], last: tuple) -> tuple[int, list]:
    moves = [last]
    while parent[state] is not None:
        state, move = parent[state]
        moves.append(move)
    return state[0], moves


def _apply_chain(st: _State, moves: list, journal: list) -> None:
    for h, here, to, n in moves:
        parts = dict(st.parts[h])
        parts[here] -= n
        parts[to] = parts.get(to, 0) + n
        _move(st, h, sorted((q, k) for q, k in parts.items() if k > 0), journal)


def _place_by_chains(
    st: _State, g: int, gather_at: int = 3, journal: list | None = None, split: bool = True, states: int = CHAIN_STATES
) -> bool:
    """Place a waiting group whole by a chain of moves; failing that, gather places at one of its
    ``gather_at`` roomiest activities with several chains, each moving some pupils out; failing
    that (and if ``split``), parts. The moves of other groups are recorded in ``journal``."""
    p, rem = st.p, st.remaining
    size, c = int(p.size[g]), p.cands[g]
    pos = _best_whole(st, g)  # earlier chains may have left room
    if pos >= 0 or (split and _try_place(st, g)):
        if pos >= 0:
            st.place(g, [(pos, size)])
        return True
    sources = sorted(((int(a), size - int(rem[a])) for a in c if p.cap[a] >= size), key=lambda s: s[1])
    found = _chain(st, g, sources, states=states)
    journal = [] if journal is None else journal
    if found is not None:
        _apply_chain(st, found[1], journal)
        st.place(g, [(int(np.flatnonzero(c == found[0])[0]), size)])
        return True
    for a0, _ in sources[:gather_at]:
        if _gather(st, g, a0, size, journal):
            st.place(g, [(int(np.flatnonzero(c == a0)[0]), size)])
            return True
        _rollback(st, journal)
    grp = p.groups[g]
    if split and _splittable(grp, size):  # parts: gather at its roomiest options, one by one, until a split fits
        for a in sorted((int(a) for a in c if p.cap[a] >= grp.min_part_size), key=lambda a: -int(rem[a]))[: grp.max_parts]:
            _gather(st, g, a, min(int(p.cap[a]), size), journal)
            parts = _split(st, g)
            if parts:
                st.place(g, parts)
                return True
        _rollback(st, journal)
    return False


def _rejoin_by_chains(st: _State, order: list[int]) -> None:
    """Place split groups whole where a chain of moves makes room, when that saves splits."""
    for g in order:
        old = st.parts.get(g)
        if not old or len(old) < 2:
            continue
        st.remove(g)
        journal: list = []
        if _place_by_chains(st, g, gather_at=0, journal=journal, split=False, states=SHORT_CHAIN_STATES):
            added = sum(len(st.parts[h]) - len(before) for h, before in journal)
            if added < len(old) - 1:
                continue
            st.remove(g)
        _rollback(st, journal)
        st.place(g, old)


def _better_rank_by_chains(st: _State, order: list[int]) -> None:
    """Move whole groups to a better-ranked option where a short chain of moves makes room, when
    the objective improves (splits, then rank and distance of the group and of every group moved)."""
    p = st.p
    for g in order:
        old = st.parts.get(g)
        if not old or len(old) > 1:
            continue
        (pos0, size), c, prefc = old[0], p.cands[g], p.prefc[g]
        better = np.flatnonzero((prefc[:pos0] < prefc[pos0]) & (st.cand_cap[g][:pos0] >= size))
        if not len(better):
            continue
        st.remove(g)
        found = _chain(st, g, [(int(c[q]), size - int(st.remaining[c[q]])) for q in better], states=SHORT_CHAIN_STATES)
        journal: list = []
        if found is not None:
            before = {h: st.parts[h] for h, *_ in found[1]}
            _apply_chain(st, found[1], journal)
            pos = int(np.flatnonzero(c == found[0])[0])
            delta = size * (st.cost_of(g, pos) - st.cost_of(g, pos0))
            for h, was in before.items():
                delta += W_SPLIT * (len(st.parts[h]) - len(was))
                delta += sum(n * st.cost_of(h, q) for q, n in st.parts[h]) - sum(n * st.cost_of(h, q) for q, n in was)
            if delta < 0:
                st.place(g, [(pos, size)])
                continue
            _rollback(st, journal)
        st.place(g, old)


def _gather(st: _State, g: int, a: int, target: int, journal: list) -> bool:
    """Free places at activity ``a`` until it has ``target``, by chains that each move some pupils out."""
    rem = st.remaining
    while rem[a] < target and (found := _chain(st, g, [(a, target - int(rem[a]))], partial=True)):
        _apply_chain(st, found[1], journal)
    return bool(rem[a] >= target)


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
    first ``width`` groups in reach, leaving nothing or a rest a part can use; groups that ranked
    the activity come first, by rank, then the others hardest first). With about two free places
    per activity nationally, wasted rests are what leaves pupils unplaced; packing per activity
    wastes far fewer than placing group by group."""
    p = st.p
    reach: list[list[tuple[int, int]]] = [[] for _ in p.activities]
    for g in order:  # hardest groups first in every list
        if g not in p.reasons:
            for pos, a in enumerate(p.cands[g]):
                reach[int(a)].append((g, pos))
    for items in reach:  # the subset sum keeps the first set it finds: ranked groups first, by rank
        items.sort(key=lambda item: _rank(p, *item))
    for a in sorted(range(len(p.activities)), key=lambda a: (len(reach[a]), a)):
        room = int(st.remaining[a])
        items = [(g, pos) for g, pos in reach[a] if g not in st.parts and p.size[g] <= room][:width]
        if not items:
            continue
        # total pupils -> (how much its groups want this activity, the set); among sets of one total
        # the most wanted is kept, so an activity takes the groups that rank it when that fills it as well.
        fills: dict[int, tuple[float, tuple[tuple[int, int], ...]]] = {0: (0.0, ())}
        for item in items:
            n = int(p.size[item[0]])
            want = n * (W_RANK * UNRANKED_COST - float(p.prefc[item[0]][item[1]]))
            for total, (value, chosen) in list(fills.items()):
                t = total + n
                if t <= room and (t not in fills or value + want > fills[t][0]):
                    fills[t] = (value + want, chosen + (item,))
        best = max((t for t in fills if room - t == 0 or room - t >= st.useful), default=0)
        fills = {t: chosen for t, (_, chosen) in fills.items()}
        for g, pos in fills[best]:
            st.place(g, [(pos, int(p.size[g]))])


def _rank(p: _Problem, g: int, pos: int) -> float:
    """How much the group wants its candidate ``pos`` (slot and preference; lower is better)."""
    return float(p.prefc[g][pos])


def _complete(st: _State, order: list[int], on_step: Callable[[str], None]) -> None:
    """Place what is still waiting (whole, split, or by a chain of moves), then improve ranks and distances."""
    p = st.p
    on_step("placing groups, hardest first")
    waiting = [g for g in order if g not in p.reasons and g not in st.parts and not _try_place(st, g)]
    on_step(f"placing {len(waiting)} waiting groups by chains of moves")
    still = [g for g in waiting if not _place_by_chains(st, g)]
    on_step("improving ranks and distances")
    _improve(st, order)
    for g in still:
        _try_place(st, g)


def max_placeable(p: _Problem) -> float:
    """The most pupils any allocation over the candidates can place (split rules relaxed): a
    maximum flow from groups to activities."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    n_g, n_a = len(p.groups), len(p.activities)
    if not any(len(c) for c in p.cands):
        return 0.0
    rows = np.concatenate([np.full(len(c), gi) for gi, c in enumerate(p.cands)])
    cols = np.concatenate(p.cands)
    sink = n_g + n_a + 1
    tail = np.concatenate([np.zeros(n_g, np.int64), 1 + rows, 1 + n_g + np.arange(n_a)])
    head = np.concatenate([1 + np.arange(n_g), 1 + n_g + cols, np.full(n_a, sink)])
    cap = np.concatenate([p.size, np.full(len(rows), p.size.max(initial=0)), p.cap]).astype(np.int32)
    return float(maximum_flow(csr_matrix((cap, (tail, head)), shape=(sink + 1, sink + 1)), 0, sink).flow_value)


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
    if n > max_pairs:  # capacity-free relaxation: the most pupils a flow places, each at her cheapest candidate
        has = [g for g, c in enumerate(p.cands) if len(c)]
        placeable = max_placeable(p)
        cheapest = [float(p.costs[g].min()) for g in has]
        pupils = sum(float(p.size[g]) for g in has)
        total_cheapest = sum(float(p.size[g]) * c for g, c in zip(has, cheapest))
        cheapest_pupils = total_cheapest - (pupils - placeable) * max(cheapest, default=0.0)  # the placeable ones at best
        return W_PLACED * (total - placeable) + max(0.0, cheapest_pupils), placeable, None
    cost = np.concatenate(p.costs) - W_PLACED
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
    on_step("re-joining split groups and moving groups to better-ranked options by chains of moves")
    _rejoin_by_chains(st, order)
    _better_rank_by_chains(st, order)
    _polish(st)

    parts, waitlist = [], {}
    for g in range(len(groups)):
        refs = groups[g].pupil_refs
        start = 0
        for pos, n in st.parts.get(g, []):
            rank = int(p.ranks[g][pos])
            parts.append(Part(groups[g].id, activities[int(p.cands[g][pos])].id, n, round(float(p.dists[g][pos]), 3),
                              rank if rank < groups[g].levels else None, tuple(refs[start:start + n])))  # fmt: skip
            start += n
    for g in order:
        if g in p.reasons:
            waitlist[groups[g].id] = p.reasons[g]
        elif g not in st.parts:
            waitlist[groups[g].id] = "every suitable activity is full"
    quality = _quality(p, st, bound, max_placed)
    if with_bound:
        on_step("bounding the preference figures (LP)")
        first_bound, top_bound = preference_bounds(p, st)
        quality = replace(quality, first_choice_bound=first_bound, top_three_bound=top_bound)
    params = {"max_candidates": max_candidates, "weights": [W_PLACED, W_SPLIT, W_RANK, W_KM],
              "bound": None if bound is None else "lp" if guide is not None else "capacity_free"}  # fmt: skip
    built = (tuple(parts), waitlist, {})
    return Allocation("groups", quality, seed, params, lambda: built)


def _polish(st: _State) -> None:
    """No group (or part of one) stays below a preference it could have without unplacing or
    splitting anyone: a part moves to a better option (slot, then preference) with room for it,
    joining the group's part there if it has one. Preferences beyond the top three cost the same
    in the objective, so among options of equal cost the better-ranked one still wins here. Each
    move lowers (cost, rank), so this ends."""
    p = st.p
    changed = True
    while changed:
        changed = False
        for g in list(st.parts):
            parts = dict(st.parts[g])
            pc, c, rank = p.prefc[g], p.cands[g], p.ranks[g]
            for pos, n in sorted(parts.items()):
                better = np.flatnonzero(((pc < pc[pos]) | ((pc == pc[pos]) & (rank < rank[pos]))) & (st.remaining[c] >= n))
                if len(better):
                    q = int(better[0])
                    moved = {k: v for k, v in parts.items() if k != pos}
                    moved[q] = moved.get(q, 0) + n
                    st.remove(g)
                    st.place(g, sorted(moved.items()))
                    changed = True
                    break


def _pupils_at(p: _Problem, st: _State, met: Callable[[int, np.ndarray], np.ndarray]) -> tuple[int, int]:
    """(placed pupils of groups that state a preference, of them at a candidate where ``met``)."""
    total = hit = 0
    for g, v in st.parts.items():
        if p.levels[g] > 0:
            for pos, n in v:
                total += n
                hit += n * bool(met(g, p.ranks[g][pos : pos + 1])[0])
    return total, hit


def _first(g: int, rank: np.ndarray) -> np.ndarray:
    return rank == 0


def _top_three(g: int, rank: np.ndarray) -> np.ndarray:
    return rank <= 2


def preference_bounds(p: _Problem, st: _State) -> tuple[float | None, float | None]:
    """Upper bounds on the first-preference and top-three shares of ``st``: the most pupils of
    groups with a preference that any allocation over the same candidates can place at their first
    (top three) preference -- a maximum flow from groups to activities over those pairs, split
    rules and the other pupils relaxed -- divided by the pupils with a preference ``st`` places.
    (The LP that also fixes the pupils placed is at most 1 point tighter nationally and takes
    1-3 s; the flow takes milliseconds.) None when nobody with a preference is placed."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    with_prefs, _ = _pupils_at(p, st, _first)
    n = sum(len(c) for c in p.cands)
    if with_prefs == 0 or n == 0:
        return None, None
    n_g, n_a = len(p.groups), len(p.activities)
    rows = np.concatenate([np.full(len(c), gi) for gi, c in enumerate(p.cands)])
    cols, rank = np.concatenate(p.cands), np.concatenate(p.ranks)
    sink = n_g + n_a + 1
    out = []
    for met in (rank == 0, rank <= 2):
        m = met & (p.levels[rows] > 0)
        tail = np.concatenate([np.zeros(n_g, np.int64), 1 + rows[m], 1 + n_g + np.arange(n_a)])
        head = np.concatenate([1 + np.arange(n_g), 1 + n_g + cols[m], np.full(n_a, sink)])
        cap = np.concatenate([p.size * (p.levels > 0), np.full(int(m.sum()), p.size.max(initial=0)), p.cap]).astype(np.int32)
        flow = maximum_flow(csr_matrix((cap, (tail, head)), shape=(sink + 1, sink + 1)), 0, sink).flow_value
        out.append(min(1.0, flow / with_prefs))
    return out[0], out[1]


def _quality(p: _Problem, st: _State, bound: float | None, max_placed: float | None) -> Quality:
    total = int(p.size.sum())
    placed = sum(int(p.size[g]) for g in st.parts)
    splits = sum(len(v) - 1 for v in st.parts.values())
    pupil_km = [(n, float(p.dists[g][pos])) for g, v in st.parts.items() for pos, n in v]
    with_prefs, first = _pupils_at(p, st, _first)
    _, top = _pupils_at(p, st, _top_three)
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
        top_three_ratio=top / with_prefs if with_prefs else None,
        splits=splits,
        mean_distance_km=sum(n * d for n, d in pupil_km) / placed if placed else None,
        max_distance_km=max(km) if km else None,
        objective=cost,
        bound=bound,
        optimality_gap=gap,
        placed_gap=placed_gap,
    )
