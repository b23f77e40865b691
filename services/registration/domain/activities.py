"""A company's activity for one programme."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from . import identifiers as ids
from .errors import Violation
from .programmes import Programme

MAX_CAPACITY = 2000
# What an activity is: a Girls' Day visit, or one of the energy-transition formats — site visits
# and taster days for individual participants (places, preferences, a waiting list), workshops
# and training for partner employers' team leaders (attendance).
FORMATS = {"girls_day": ("visit",), "energy_transition": ("site_visit", "taster_day", "workshop", "training")}
AUDIENCES = ("student_mbo", "student_hbo", "career_switcher", "employee", "team_leader")


@dataclass
class Activity:
    title: str
    sector: str
    capacity: int
    levels: list[str]
    min_age: int | None
    max_age: int | None
    starts_at: time
    ends_at: time
    postcode: str
    description: str = ""
    address: str = ""
    wheelchair_accessible: bool = False
    accessibility_notes: str = ""
    format: str | None = None  # None: the programme's first format
    audience: list[str] = field(default_factory=list)  # energy transition: target groups; [] is everyone


def validate_activity(p: Programme, a: Activity) -> list[Violation]:
    out: list[Violation] = []
    if not a.title.strip():
        out.append(Violation("title", "required", "title must not be empty"))
    a.sector = ids.check("sector", ids.sector, a.sector, out)
    out += validate_capacity(a.capacity)
    formats = FORMATS.get(p.kind, ("visit",))
    a.format = a.format or formats[0]
    if a.format not in formats:
        out.append(Violation("format", "format_for_programme", f"an activity of this programme is one of: {', '.join(formats)}"))
    if p.kind == "energy_transition":
        out += [Violation(f"audience.{i}", "audience_unknown", f"audience must be one of {', '.join(AUDIENCES)}")
                for i, who in enumerate(a.audience) if who not in AUDIENCES]  # fmt: skip
    elif a.audience:
        out.append(Violation("audience", "audience_for_energy_transition", "only energy-transition activities name an audience"))
    if not a.levels and p.kind != "energy_transition":  # adults' activities need no school level
        out.append(Violation("levels", "required", "name at least one school level (po, vo, mbo)"))
    a.levels = [ids.check(f"levels.{i}", ids.level, lv, out) for i, lv in enumerate(a.levels)]
    if len(set(a.levels)) != len(a.levels):
        out.append(Violation("levels", "duplicate_level", "each level may appear once"))
    if a.min_age is None or a.max_age is None:
        if p.kind != "energy_transition":  # pupils' activities say which ages they suit
            out += [Violation(name, "required", f"{name.replace('_', ' ')} is required") for name in ("min_age", "max_age")
                    if getattr(a, name) is None]  # fmt: skip
    elif problem := age_order(a.min_age, a.max_age):
        out.append(problem.at("max_age"))
    elif p.kind != "energy_transition" and (a.max_age < p.min_age or a.min_age > p.max_age):
        out.append(Violation("min_age", "ages_outside_programme", f"the ages must overlap the programme's {p.min_age}-{p.max_age}"))
    if problem := slot_order(a.starts_at, a.ends_at):
        out.append(problem.at("ends_at"))
    a.postcode = ids.check("postcode", ids.postcode, a.postcode, out)
    return out


def age_order(min_age: int, max_age: int) -> ids.RuleError | None:
    return ids.RuleError("age_range_order", "maximum age must be at least the minimum age") if min_age > max_age else None


def slot_order(starts_at: time, ends_at: time) -> ids.RuleError | None:
    return ids.RuleError("slot_order", "the activity must end after it starts") if starts_at >= ends_at else None


def validate_capacity(capacity: int) -> list[Violation]:
    if capacity <= 0:
        return [Violation("capacity", "capacity_positive", "capacity must be greater than 0")]
    if capacity > MAX_CAPACITY:
        return [Violation("capacity", "capacity_too_large", f"capacity must be at most {MAX_CAPACITY}")]
    return []
