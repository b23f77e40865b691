"""Guest lessons: the values the assignment engine works on, and the one rule of who may give which
lesson on which date. Plain Python, no I/O, no framework.

A *role model* gives guest lessons at schools (Beeldenbrekers in primary, Dit Doe Ik in secondary).
A *lesson request* comes from a school: a lesson type, a level, two or three date options and the
number of role models the lesson needs (Beeldenbrekers two; a role model the school names is fixed).
A *commitment* is a role model already on a lesson (proposed or confirmed): the engine and backfill
count it, never move it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# Objective of the engine, in priority order. Lessons fully staffed come first by construction (the
# engine never gives up a staffed lesson for any of the costs below). Per role model on a lesson:
W_LOAD = 100_000.0  # per unit of the sum of squared season loads: a second lesson costs 3, a third 5
W_SECTOR = 2_000.0  # the school wished for a sector and she works in another
W_SAME_FIELD = 1_000.0  # she shares her field with another role model of the same lesson
W_OPTION = 10.0  # per step down the school's list of date options (per lesson, not per role model)
W_KM = 1.0  # per km of her journey

WEEKDAYS = frozenset(range(5))  # Monday .. Friday


def school_year(d: date) -> int:
    """The Dutch school year a date falls in, by its first calendar year (1 August .. 31 July)."""
    return d.year if d.month >= 8 else d.year - 1


def school_term(d: date) -> tuple[int, int]:
    """The term a role model's maximum counts in: August-December (1), January-March (2), April-July (3)."""
    return school_year(d), 1 if d.month >= 8 else 2 if d.month <= 3 else 3


@dataclass(frozen=True, slots=True)
class Availability:
    """When she can give a lesson: on these weekdays, inside one of the ranges (none: any date), never
    on a blocked date."""

    weekdays: frozenset[int] = WEEKDAYS  # 0 = Monday
    ranges: tuple[tuple[date, date], ...] = ()  # inclusive
    blocked: frozenset[date] = frozenset()

    def allows(self, d: date) -> bool:
        if d.weekday() not in self.weekdays or d in self.blocked:
            return False
        return not self.ranges or any(lo <= d <= hi for lo, hi in self.ranges)


@dataclass(frozen=True, slots=True)
class RoleModel:
    id: str
    lat: float
    lon: float
    max_travel_km: float
    levels: frozenset[str]  # po, vo, mbo
    lesson_types: frozenset[str]
    availability: Availability = Availability()
    max_per_term: int = 1
    field: str = ""  # e.g. "ict", "civil engineering": two of one lesson should differ
    sector: str = ""
    languages: frozenset[str] = frozenset({"nl"})


@dataclass(frozen=True, slots=True)
class LessonRequest:
    id: str
    lesson_type: str
    level: str
    lat: float
    lon: float
    date_options: tuple[date, ...]  # the school's order of preference
    role_models_needed: int = 1
    fixed: tuple[str, ...] = ()  # role models named by the school or pinned by staff
    sector: str | None = None  # the school's wish (soft)
    language: str | None = None  # a language the lesson must be given in (hard)
    school_id: str = ""


@dataclass(frozen=True, slots=True)
class Commitment:
    """A role model already on a lesson on a date (proposed or confirmed): counted, never moved."""

    role_model_id: str
    request_id: str
    date: date


def ineligibility(request: LessonRequest, rm: RoleModel, d: date, distance_km: float) -> str | None:
    """Why she cannot give this lesson on this date (ignoring her other lessons), or None when she can."""
    if request.level not in rm.levels:
        return f"does not give lessons at level {request.level}"
    if request.lesson_type not in rm.lesson_types:
        return f"does not give {request.lesson_type}"
    if request.language is not None and request.language not in rm.languages:
        return f"does not speak {request.language}"
    if distance_km > rm.max_travel_km:
        return f"{distance_km:.0f} km away, beyond her travel limit of {rm.max_travel_km:.0f} km"
    if not rm.availability.allows(d):
        return f"not available on {d.isoformat()}"
    return None


@dataclass(frozen=True, slots=True)
class Staffing:
    """The engine's answer for one request: its date and role models (fixed and committed first)."""

    request_id: str
    date: date | None
    role_model_ids: tuple[str, ...]
    distances_km: tuple[float, ...]
    needed: int
    committed: tuple[str, ...] = ()  # of role_model_ids: commitments the run was given (not added by it)
    reason: str = ""  # why it is not fully staffed ("" when it is)

    @property
    def full(self) -> bool:
        return len(self.role_model_ids) == self.needed


@dataclass(frozen=True, slots=True)
class Candidate:
    """A role model who could step in (backfill), best first."""

    role_model_id: str
    distance_km: float
    season_load: int  # her lessons this school year before this one
    same_field: bool  # shares her field with a role model already on the lesson
    sector_match: bool | None  # None: the school wished for no sector
    cost: float


@dataclass(frozen=True, slots=True)
class LessonQuality:
    requests: int
    fully_staffed: int
    partially_staffed: int
    unstaffed: int
    fill_rate: float  # fully staffed / requests
    bound: int  # no assignment staffs more requests fully than this
    bound_kind: str  # "lp" (LP relaxation) or "alone" (each request staffable on its own)
    fill_of_bound: float  # fully staffed / bound
    role_models_used: int
    load_histogram: dict[int, int] = field(default_factory=dict)  # season load -> role models (of those eligible anywhere)
    max_load: int = 0
    unfair_pairs: int = 0  # a role model on a lesson with two or more lessons more than a free candidate of it
    same_field_lessons: int = 0  # lessons of two or more where two share a field
    sector_wishes: int = 0
    sector_wishes_met: int = 0  # lessons with a sector wish and at least one role model of that sector
    mean_km: float | None = None
    max_km: float | None = None
    seconds: float = 0.0
    bound_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class LessonPlan:
    staffings: dict[str, Staffing]  # request id -> staffing
    quality: LessonQuality
    seed: int
    parameters: dict

    def assignments(self) -> list[Commitment]:
        """Every role model the run added to a lesson (not the commitments it was given)."""
        return [
            Commitment(m, s.request_id, s.date)
            for s in self.staffings.values()
            if s.date is not None
            for m in s.role_model_ids
            if m not in s.committed
        ]
