"""A school's group for one programme: size, ages, preferences, travel limit, split rules, pupil refs."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import identifiers as ids
from .errors import Violation
from .programmes import Programme

MAX_TRAVEL_KM = 250
MAX_PREFERENCES = 10


@dataclass
class Split:
    may_split: bool = False
    max_parts: int = 1
    min_part_size: int | None = None


@dataclass
class PupilEntry:
    pupil_ref: str
    age: int | None = None
    parental_consent: bool = False
    ranking: list[str] = field(default_factory=list)  # activity ids, best first (individual mode)


@dataclass
class Group:
    pupil_count: int
    grades: list[str] = field(default_factory=list)
    ages: list[int] = field(default_factory=list)
    teacher_name: str = ""
    preferred_sectors: list[str] = field(default_factory=list)
    preferred_activities: list[str] = field(default_factory=list)
    max_travel_km: float | None = None
    split: Split = field(default_factory=Split)
    pupils: list[PupilEntry] = field(default_factory=list)


def validate_group(p: Programme, g: Group, activities_in_programme: set[str]) -> list[Violation]:
    """Every rule a group must meet against its programme; activities must belong to the same programme."""
    out: list[Violation] = []
    if g.pupil_count < p.min_group_size:
        out.append(Violation("pupil_count", "group_below_minimum", f"a group needs at least {p.min_group_size} pupils in this programme"))
    if p.max_group_size is not None and g.pupil_count > p.max_group_size and not g.split.may_split:
        out.append(Violation("pupil_count", "group_above_maximum", f"a group has at most {p.max_group_size} pupils unless it may be split"))
    for i, age in enumerate(g.ages):
        if not p.min_age <= age <= p.max_age:
            out.append(Violation(f"ages.{i}", "age_out_of_range", f"ages must be {p.min_age}-{p.max_age} in this programme"))
    if g.max_travel_km is not None and not 0 < g.max_travel_km <= MAX_TRAVEL_KM:
        out.append(Violation("max_travel_km", "travel_range", f"maximum travel distance must be 1-{MAX_TRAVEL_KM} km"))
    out += _preferences(g, activities_in_programme)
    out += _split(p, g)
    out += _pupils(p, g, activities_in_programme)
    return out


def _preferences(g: Group, known: set[str]) -> list[Violation]:
    out: list[Violation] = []
    for i, s in enumerate(g.preferred_sectors):
        ids.check(f"preferred_sectors.{i}", ids.sector, s, out)
    for name, values in (
        ("preferred_sectors", [s.strip().lower() for s in g.preferred_sectors]),
        ("preferred_activities", g.preferred_activities),
    ):
        if len(values) > MAX_PREFERENCES:
            out.append(Violation(name, "too_many_preferences", f"at most {MAX_PREFERENCES} ranked preferences"))
        if len(set(values)) != len(values):
            out.append(Violation(name, "duplicate_preference", "each preference may appear only once in the ranking"))
    for i, a in enumerate(g.preferred_activities):
        if a not in known:
            out.append(
                Violation(f"preferred_activities.{i}", "activity_not_in_programme", f"activity {a} does not exist in this programme")
            )
    return out


def _split(p: Programme, g: Group) -> list[Violation]:
    s = g.split
    if not s.may_split:
        if s.max_parts != 1:
            return [Violation("split.max_parts", "split_not_allowed", "max_parts must be 1 when the group may not be split")]
        return []
    out: list[Violation] = []
    if s.max_parts < 2:
        out.append(Violation("split.max_parts", "split_parts_min", "a group that may be split needs max_parts of at least 2"))
    part = s.min_part_size
    if part is None or part < 1:
        out.append(Violation("split.min_part_size", "split_part_size_required", "give the minimum part size (at least 1)"))
    elif part * 2 > g.pupil_count:
        out.append(
            Violation("split.min_part_size", "split_impossible", f"two parts of at least {part} do not fit in a group of {g.pupil_count}")
        )
    return out


def _pupils(p: Programme, g: Group, known: set[str]) -> list[Violation]:
    out: list[Violation] = []
    if len(g.pupils) > g.pupil_count:
        out.append(Violation("pupils", "more_pupils_than_count", "more pupil entries than the group's pupil count"))
    seen: set[str] = set()
    for i, e in enumerate(g.pupils):
        ref = ids.check(f"pupils.{i}.pupil_ref", ids.pupil_ref, e.pupil_ref, out)
        if ref in seen:
            out.append(Violation(f"pupils.{i}.pupil_ref", "duplicate_pupil_ref", "each pupil code may appear once per group"))
        seen.add(ref)
        if e.age is not None and not p.min_age <= e.age <= p.max_age:
            out.append(Violation(f"pupils.{i}.age", "age_out_of_range", f"ages must be {p.min_age}-{p.max_age} in this programme"))
        if e.ranking and p.allocation_mode != "individual":
            out.append(
                Violation(
                    f"pupils.{i}.ranking", "ranking_needs_individual_mode", "pupils rank activities only in individual-mode programmes"
                )
            )
            continue
        if len(set(e.ranking)) != len(e.ranking):
            out.append(Violation(f"pupils.{i}.ranking", "duplicate_preference", "each activity may appear only once in the ranking"))
        if len(e.ranking) > MAX_PREFERENCES:
            out.append(Violation(f"pupils.{i}.ranking", "too_many_preferences", f"at most {MAX_PREFERENCES} ranked preferences"))
        for j, a in enumerate(e.ranking):
            if a not in known:
                out.append(
                    Violation(f"pupils.{i}.ranking.{j}", "activity_not_in_programme", f"activity {a} does not exist in this programme")
                )
    return out


def normalise(g: Group) -> Group:
    g.preferred_sectors = [s.strip().lower() for s in g.preferred_sectors]
    g.pupils = [PupilEntry(e.pupil_ref.strip(), e.age, e.parental_consent, list(e.ranking)) for e in g.pupils]
    if not g.split.may_split:
        g.split = Split(False, 1, None)
    return g
