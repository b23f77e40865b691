"""The allocation model: plain values the engine works on. No I/O, no framework."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

EARTH_RADIUS_KM = 6371.0088

# Objective weights of group mode, in priority order. One more pupil placed outweighs any number of
# splits, ranks and kilometres a realistic instance can have; one split fewer outweighs any rank and
# distance change of one group (up to 40 pupils); keeping a re-allocated group in its time slot
# outweighs any preference and distance (the school planned the day around it); one rank step per
# pupil outweighs 100 km per pupil.
W_PLACED = 1_000_000.0  # per pupil
W_SPLIT = 100_000.0  # per extra part
W_SLOT = 2_000.0  # per pupil placed in another time slot than the one it had (re-allocation)
W_RANK = 100.0  # per pupil per rank step
W_KM = 1.0  # per pupil per km
UNRANKED_COST = 4  # rank steps of an option that meets none of a group's preferences

# Preferences. A group names activities (``preferences``, best first) and ranks sectors
# (``sectors``, best first; the school form asks for up to three). Its preference levels are the
# named activities in their order, then the sectors in theirs: an activity the group named ranks
# above every sector, so also above its own sector. An activity meets the best level it qualifies
# for; one that meets none is unranked. Level 0 is the group's first-ranked preference.


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    capacity: int
    lat: float
    lon: float
    levels: frozenset[str] = frozenset()  # empty: every level
    min_age: int | None = None
    max_age: int | None = None
    slot: str | None = None  # an opaque time-slot key (the service: day and part of day)
    company_id: str = ""
    sector: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    pupils: int
    lat: float
    lon: float
    level: str = ""
    min_age: int | None = None
    max_age: int | None = None
    slots: frozenset[str] | None = None  # None: any slot
    max_travel_km: float | None = None  # None: no limit
    max_parts: int = 1  # 1: the group must go whole
    min_part_size: int = 1
    preferences: tuple[str, ...] = ()  # activity ids, best first
    school_id: str = ""
    pupil_refs: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()  # ranked sectors, best first
    preferred_slot: str | None = None  # re-allocation: the slot it had; another slot costs W_SLOT

    @property
    def levels(self) -> int:
        """How many preference levels the group has (0: it stated no preference)."""
        return len(self.preferences) + len(self.sectors)


def preference_level(preferences: tuple[str, ...], sectors: tuple[str, ...], activity: Activity) -> int | None:
    """The preference an activity meets (0 = the first-ranked), or None: named activities first,
    then ranked sectors (see the rule above)."""
    if activity.id in preferences:
        return preferences.index(activity.id)
    if activity.sector and activity.sector in sectors:
        return len(preferences) + sectors.index(activity.sector)
    return None


@dataclass(frozen=True, slots=True)
class Pupil:
    id: str  # unique in the instance (the service: "<group_id>/<pupil_ref>")
    lat: float
    lon: float
    preferences: tuple[str, ...]  # activity ids, best first
    group_id: str = ""
    school_id: str = ""
    ref: str = ""  # the school's own code, unique only within the group, for Part.pupil_refs; "": the id
    sectors: tuple[str, ...] = ()  # her group's ranked sectors: they extend her list (individual mode)


@dataclass(frozen=True, slots=True)
class Part:
    """One placement: (part of) a group at an activity."""

    group_id: str
    activity_id: str
    pupils: int
    distance_km: float
    rank: int | None  # the preference level met: 0 = first-ranked; None = none (or mixed)
    pupil_refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Quality:
    placed_pupils: int
    unplaced_pupils: int
    placed_ratio: float
    first_choice_ratio: float | None
    splits: int
    mean_distance_km: float | None
    max_distance_km: float | None
    blocking_pairs: int | None = None
    objective: float | None = None
    bound: float | None = None
    optimality_gap: float | None = None  # (objective - bound) / objective, costs minimised
    placed_gap: float | None = None  # pupils the bound could still place, as share of the bound
    # Of the placed pupils whose group states a preference: the share at its first-ranked one and
    # within its top three, each with an upper bound for any allocation placing as many pupils
    # (the LP relaxation of the preference stage with the pupils placed fixed).
    top_three_ratio: float | None = None
    first_choice_bound: float | None = None
    top_three_bound: float | None = None

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


class Allocation:
    """The result of a run. Parts, waiting list and assignment are materialised on first use, so a
    national-scale run does not pay for Python objects nobody reads."""

    def __init__(self, mode: str, quality: Quality, seed: int, parameters: dict,
                 build: Callable[[], tuple[tuple[Part, ...], dict[str, str], dict[str, str]]]):  # fmt: skip
        self.mode = mode  # "groups" | "individual"
        self.quality = quality
        self.seed = seed
        self.parameters = parameters
        self._build = build

    @cached_property
    def _built(self) -> tuple[tuple[Part, ...], dict[str, str], dict[str, str]]:
        return self._build()

    @property
    def parts(self) -> tuple[Part, ...]:
        return self._built[0]

    @property
    def waitlist(self) -> dict[str, str]:
        """Group (group mode) or pupil (individual mode) id -> why it is not placed."""
        return self._built[1]

    @property
    def assignment(self) -> dict[str, str]:
        """Individual mode: pupil id -> activity id."""
        return self._built[2]

    def by_group(self) -> dict[str, list[Part]]:
        out: dict[str, list[Part]] = {}
        for p in self.parts:
            out.setdefault(p.group_id, []).append(p)
        return out


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Vectorised great-circle distance; arguments broadcast like numpy arrays."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, h)))


def unsuitable_because(group: Group, activity: Activity, distance_km: float) -> tuple[str, dict] | None:
    """The rule an activity breaks for a group (ignoring how full it is), as (code, figures), or None.
    The codes are the rules' names everywhere: engine reasons, staff refusals, explanations."""
    if activity.capacity <= 0:
        return "cancelled", {}
    if activity.levels and group.level not in activity.levels:
        return "level", {"level": group.level, "levels": sorted(activity.levels)}
    if activity.min_age is not None and group.min_age is not None and group.min_age < activity.min_age:
        return "min_age", {"age": activity.min_age}
    if activity.max_age is not None and group.max_age is not None and group.max_age > activity.max_age:
        return "max_age", {"age": activity.max_age}
    if group.slots is not None and activity.slot not in group.slots:
        return "slot", {}
    if group.max_travel_km is not None and distance_km > group.max_travel_km:
        return "travel", {"km": round(distance_km), "limit": round(group.max_travel_km)}
    if group.pupils > activity.capacity and group.max_parts == 1:
        return "too_small_whole", {"places": activity.capacity, "pupils": group.pupils}
    if activity.capacity < group.min_part_size:
        return "too_small_part", {"places": activity.capacity, "min_part": group.min_part_size}
    return None


_ENGLISH = {
    "cancelled": "cancelled or without places",
    "level": "not for level {level}",
    "min_age": "for ages {age} and up",
    "max_age": "for ages up to {age}",
    "slot": "at a time the group is not available",
    "travel": "{km} km away, beyond the travel limit of {limit} km",
    "too_small_whole": "{places} places, fewer than the group's {pupils} pupils",
    "too_small_part": "{places} places, fewer than the smallest allowed part",
}


def unsuitability(group: Group, activity: Activity, distance_km: float) -> str | None:
    """Why an activity cannot take a group, or None when it can (ignoring capacity)."""
    why = unsuitable_because(group, activity, distance_km)
    return None if why is None else _ENGLISH[why[0]].format(**why[1])
