"""Guest lessons: assign role models to lesson requests, find backfill candidates, bound the fill."""

from .assign import assign_lessons
from .backfill import backfill_candidates
from .model import (
    Availability,
    Candidate,
    Commitment,
    LessonPlan,
    LessonQuality,
    LessonRequest,
    RoleModel,
    Staffing,
    ineligibility,
    school_term,
    school_year,
)
from .pool import Ledger, Pool

__all__ = [
    "Availability",
    "Candidate",
    "Commitment",
    "Ledger",
    "LessonPlan",
    "LessonQuality",
    "LessonRequest",
    "Pool",
    "RoleModel",
    "Staffing",
    "assign_lessons",
    "backfill_candidates",
    "ineligibility",
    "school_term",
    "school_year",
]
