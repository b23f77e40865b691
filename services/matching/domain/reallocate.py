"""Re-allocation after publishing: cancelled activities, reduced capacities, withdrawn groups.

Every placement that is not affected stays exactly as it was. Affected groups (their activity was
cancelled, or its capacity fell below what it holds: the groups farthest from it leave first,
groups staff pinned there last) are placed again on the places left -- in the time slot they had
where one has room (``model.W_SLOT``) -- before the waiting list is served in turn. Only the
differences are returned. A pinned group (staff fixed it) stays unless its activity is cancelled,
the group is withdrawn, or the capacity left is too small even without every unpinned group.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .group_mode import allocate_groups
from .individual_mode import allocate_pupils
from .model import Activity, Group, Part, Pupil, haversine_km


@dataclass(frozen=True)
class Changes:
    parts: tuple[Part, ...]  # the new allocation, in full
    assigned: tuple[Part, ...]  # placements that are new
    cancelled: tuple[tuple[Part, str], ...]  # placements that ended, with the reason
    waitlisted: dict[str, str]  # groups/pupils now waiting that were placed or unknown before
    waitlist: dict[str, str]  # the full waiting list after the change


def _kept_and_displaced(units: dict[str, object], activities: list[Activity], previous: list[Part],
                        pinned: frozenset[str] = frozenset()):  # fmt: skip
    acts = {a.id: a for a in activities}
    kept: list[Part] = []
    cancelled: list[tuple[Part, str]] = []
    for part in previous:
        unit, act = units.get(part.group_id), acts.get(part.activity_id)
        if unit is None:
            cancelled.append((part, "withdrawn"))
        elif act is None or act.capacity <= 0:
            cancelled.append((part, "activity cancelled"))
        else:
            kept.append(part)
    # Capacity reductions: the farthest placements leave first (a group leaves with all its parts).
    at: dict[str, list[Part]] = {}
    for part in kept:
        at.setdefault(part.activity_id, []).append(part)
    leaving: set[str] = set()
    for aid, held in at.items():
        over = sum(p.pupils for p in held) - acts[aid].capacity
        if over <= 0:
            continue
        for part in sorted(held, key=lambda p: (p.group_id in pinned, -p.distance_km, p.group_id)):
            if over <= 0:
                break
            if part.group_id not in leaving:
                leaving.add(part.group_id)
                over -= part.pupils
    cancelled += [(p, "capacity reduced") for p in kept if p.group_id in leaving]
    hit = {p.group_id for p, _ in cancelled}  # a split group is re-planned with all its parts
    cancelled += [(p, "other part re-planned") for p in kept if p.group_id in hit and p.group_id not in leaving]
    stay = [p for p in kept if p.group_id not in hit]
    displaced = {p.group_id for p, _ in cancelled if p.group_id in units}
    return stay, cancelled, displaced


def _residual(activities: list[Activity], stay: list[Part]) -> list[Activity]:
    used: dict[str, int] = {}
    for p in stay:
        used[p.activity_id] = used.get(p.activity_id, 0) + p.pupils
    return [replace(a, capacity=max(0, a.capacity - used.get(a.id, 0))) for a in activities]


def reallocate_groups(groups: list[Group], activities: list[Activity], previous: list[Part],
                      previous_waitlist: dict[str, str], seed: int = 0, pinned: frozenset[str] = frozenset(),
                      slots: dict[str, str | None] | None = None) -> Changes:  # fmt: skip
    """``pinned``: groups staff fixed where they are (see the module). ``slots``: the time slot of
    activities no longer offered (a cancelled one), so its groups keep their slot elsewhere."""
    units = {g.id: g for g in groups}
    stay, cancelled, displaced = _kept_and_displaced(units, activities, previous, pinned)
    slot_of = dict(slots or {}) | {a.id: a.slot for a in activities}
    had = {}  # a displaced group's slot: where most of its pupils were
    for part in sorted(previous, key=lambda p: p.pupils):
        had[part.group_id] = slot_of.get(part.activity_id)
    placed_before = {p.group_id for p in stay}
    new_parts: list[Part] = []
    waitlist: dict[str, str] = {}
    residual = _residual(activities, stay)
    waiting = [g for g in groups if g.id not in placed_before and g.id not in displaced]
    displaced_groups = [replace(units[g], preferred_slot=had.get(g)) for g in sorted(displaced)]
    for batch in (displaced_groups, waiting):  # displaced groups first, in their slot where they can
        if not batch:
            continue
        run = allocate_groups(batch, residual, seed=seed, with_bound=False)
        new_parts += run.parts
        waitlist.update(run.waitlist)
        residual = _residual(residual, list(run.parts))
    before = {p.group_id for p in previous}
    waitlisted = {g: why for g, why in waitlist.items() if g in before or g not in previous_waitlist}
    return Changes(tuple(stay) + tuple(new_parts), tuple(new_parts), tuple(cancelled), waitlisted, waitlist)


def reallocate_pupils(pupils: list[Pupil], activities: list[Activity], previous: list[Part],
                      previous_waitlist: dict[str, str], seed: int = 0, band_km: float = 10.0) -> Changes:  # fmt: skip
    """Individual mode: ``previous`` holds one part per pupil (``group_id`` = pupil id)."""
    units = {p.id: p for p in pupils}
    acts = {a.id: a for a in activities}
    prev = [replace(p, distance_km=float(haversine_km(units[p.group_id].lat, units[p.group_id].lon,
                                                      acts[p.activity_id].lat, acts[p.activity_id].lon)))
            if p.group_id in units and p.activity_id in acts else p for p in previous]  # fmt: skip
    stay, cancelled, displaced = _kept_and_displaced(units, activities, prev)
    placed = {p.group_id for p in stay}
    residual = _residual(activities, stay)
    new_parts: list[Part] = []
    waitlist: dict[str, str] = {}
    waiting = [p for p in pupils if p.id not in placed and p.id not in displaced]
    for batch in ([units[p] for p in sorted(displaced)], waiting):
        if not batch:
            continue
        run = allocate_pupils([replace(p, group_id="") for p in batch], residual, seed=seed, band_km=band_km)
        new_parts += run.parts
        waitlist.update(run.waitlist)
        residual = _residual(residual, list(run.parts))
    before = {p.group_id for p in previous}
    waitlisted = {u: why for u, why in waitlist.items() if u in before or u not in previous_waitlist}
    return Changes(tuple(stay) + tuple(new_parts), tuple(new_parts), tuple(cancelled), waitlisted, waitlist)
