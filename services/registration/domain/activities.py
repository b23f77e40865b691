"""A company's activity for one programme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from . import identifiers as ids
from .errors import Violation
from .programmes import Programme

MAX_CAPACITY = 2000


@dataclass
class Activity:
    title: str
    sector: str
    capacity: int
    levels: list[str]
    min_age: int
    max_age: int
    starts_at: time
    ends_at: time
    postcode: str
    description: str = ""
    address: str = ""
    wheelchair_accessible: bool = False
    accessibility_notes: str = ""


def validate_activity(p: Programme, a: Activity) -> list[Violation]:
    out: list[Violation] = []
    if not a.title.strip():
        out.append(Violation("title", "required", "title must not be empty"))
    a.sector = ids.check("sector", ids.sector, a.sector, out)
    out += validate_capacity(a.capacity)
    if not a.levels:
        out.append(Violation("levels", "required", "name at least one school level (po, vo, mbo)"))
    a.levels = [ids.check(f"levels.{i}", ids.level, lv, out) for i, lv in enumerate(a.levels)]
    if len(set(a.levels)) != len(a.levels):
        out.append(Violation("levels", "duplicate_level", "each level may appear once"))
    if problem := age_order(a.min_age, a.max_age):
        out.append(problem.at("max_age"))
    elif a.max_age < p.min_age or a.min_age > p.max_age:
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
