"""The event catalogue: the data of every event, as versioned pydantic models.

A model's TYPE is its CloudEvents `type`; its SUBJECT the catalogue subject (without namespace).
Change a model incompatibly by adding a new model with the next version, never by editing a
published one. No model carries names, e-mail addresses, phone numbers or birthdates of people.

Producers are strict, readers tolerant: building a model (what a producer does) refuses unknown
fields, while `Contract.read` (what every consumer does) ignores them, at every depth. So a field
added to a contract (with a default) can be deployed in its producer before its consumers: during
the rolling deploy the old consumers read the new events as they read the old ones.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

TYPE_PREFIX = "nl.vhto.girlsday"
ProgrammeKind = Literal["girls_day", "energy_transition"]
AllocationMode = Literal["groups", "individual"]
SchoolLevel = Literal["po", "vo", "mbo"]
Phase = Literal["pre", "post"]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    SUBJECT: ClassVar[str]
    VERSION: ClassVar[int] = 1

    @classmethod
    def read(cls, data: Any) -> Self:
        """The contract of a consumed event's `data`: validated, unknown fields ignored."""
        return cls.model_validate(data, extra="ignore")

    @classmethod
    def read_json(cls, data: str | bytes) -> Self:
        return cls.model_validate_json(data, extra="ignore")

    @classmethod
    def type_name(cls) -> str:
        return f"{TYPE_PREFIX}.{cls.SUBJECT}.v{cls.VERSION}"

    @property
    def TYPE(self) -> str:  # noqa: N802 - reads like the class constant it mirrors
        return self.type_name()

    def nats_subject(self) -> str:
        """The catalogue subject this event is published on (overridden where it carries a key)."""
        return self.SUBJECT


# --- registration ---------------------------------------------------------------------------


class ProgrammeOpened(Contract):
    SUBJECT: ClassVar[str] = "registration.programme.opened"
    programme_id: str
    kind: ProgrammeKind
    name: str
    event_date: date
    registration_opens: datetime
    registration_closes: datetime
    target_pupils: int = Field(ge=0)
    target_schools: int = Field(ge=0)
    target_companies: int = Field(ge=0)
    allocation_mode: AllocationMode
    min_group_size: int = Field(ge=1)
    min_age: int
    max_age: int
    revision: int = 1


class ProgrammeClosed(Contract):
    SUBJECT: ClassVar[str] = "registration.programme.closed"
    programme_id: str
    closed_at: datetime
    revision: int = 1


class SchoolRegistered(Contract):
    SUBJECT: ClassVar[str] = "registration.school.registered"
    school_id: str
    brin: str
    name: str
    level: SchoolLevel
    postcode: str
    municipality: str | None = None
    province: str | None = None
    registered_at: datetime | None = None


class PupilRef(BaseModel):
    """A pupil as other services may know her: an opaque reference, never a name.

    `pupil_ref` is a pseudonym registration draws at random for her (unique within her group; a
    pupil registered before pseudonyms keeps her school's code as her ref). Her school's code travels
    only in `PupilsNamed`, which erasure purges from the stream: see docs/privacy.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pupil_ref: str
    age: int | None = Field(default=None, ge=4, le=25)
    parental_consent: bool = False
    ranking: list[str] = Field(default_factory=list)  # activity ids, individual-mode programmes


class SplitRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    may_split: bool = False
    max_parts: int = Field(default=1, ge=1)
    min_part_size: int = Field(default=1, ge=1)


class GroupRegistered(Contract):
    SUBJECT: ClassVar[str] = "registration.group.registered"
    group_id: str
    school_id: str
    programme_id: str
    pupil_count: int = Field(ge=1)
    grades: list[str] = Field(default_factory=list)
    ages: list[int] = Field(default_factory=list)
    preferred_sectors: list[str] = Field(default_factory=list)
    preferred_activities: list[str] = Field(default_factory=list)
    max_travel_km: float | None = Field(default=None, gt=0)
    split: SplitRules = SplitRules()
    pupils: list[PupilRef] = Field(default_factory=list)
    revision: int = 1
    registered_at: datetime | None = None


class GroupUpdated(GroupRegistered):
    SUBJECT: ClassVar[str] = "registration.group.updated"


class GroupWithdrawn(Contract):
    SUBJECT: ClassVar[str] = "registration.group.withdrawn"
    group_id: str
    school_id: str
    programme_id: str
    revision: int


class CompanyRegistered(Contract):
    SUBJECT: ClassVar[str] = "registration.company.registered"
    company_id: str
    kvk: str
    name: str
    sectors: list[str] = Field(default_factory=list)
    postcode: str
    municipality: str | None = None
    province: str | None = None
    registered_at: datetime | None = None


class ActivityRegistered(Contract):
    SUBJECT: ClassVar[str] = "registration.activity.registered"
    activity_id: str
    company_id: str
    programme_id: str
    title: str
    sector: str
    capacity: int = Field(ge=1)
    levels: list[SchoolLevel] = Field(default_factory=list)
    min_age: int | None = None
    max_age: int | None = None
    slot_start: datetime | None = None
    slot_end: datetime | None = None
    postcode: str
    province: str | None = None
    format: str = "visit"  # visit (Girls' Day); site_visit, taster_day, workshop, training (energy transition)
    audience: list[str] = Field(default_factory=list)  # energy transition: target groups; [] is everyone
    revision: int = 1
    registered_at: datetime | None = None


class ActivityUpdated(ActivityRegistered):
    SUBJECT: ClassVar[str] = "registration.activity.updated"


class ActivityCancelled(Contract):
    SUBJECT: ClassVar[str] = "registration.activity.cancelled"
    activity_id: str
    company_id: str
    programme_id: str
    revision: int


class PupilErased(Contract):
    """A pupil's data must go everywhere; every consumer also remembers `pupil_ref` (a pseudonym,
    linked to nothing once she is erased) so that no later event brings her back."""

    SUBJECT: ClassVar[str] = "registration.pupil.erased"
    pupil_ref: str
    group_id: str | None = None
    programme_id: str | None = None


class ParticipantRegistered(Contract):
    """An energy-transition participant (an adult) in a programme: pseudonymous id and what the
    allocation needs, never her name, contact, person number, birth date or gender."""

    SUBJECT: ClassVar[str] = "registration.participant.registered"
    participant_id: str
    programme_id: str
    target_group: str
    employer_id: str | None = None  # a partner employer that registered her
    ranking: list[str] = Field(default_factory=list)  # activity ids, best first
    postcode_area: str | None = None  # the 4 digits of her postcode: distance, nothing finer
    revision: int = 1


class ParticipantUpdated(ParticipantRegistered):
    SUBJECT: ClassVar[str] = "registration.participant.updated"


class ParticipantErased(Contract):
    """Her record left the register (her own request, or its retention date passed)."""

    SUBJECT: ClassVar[str] = "registration.participant.erased"
    participant_id: str
    programme_id: str
    reason: Literal["request", "retention"] = "request"


class AttendanceRecorded(Contract):
    SUBJECT: ClassVar[str] = "registration.attendance.recorded"
    participant_id: str
    programme_id: str
    activity_id: str
    attended: bool
    day: date


class RetentionReported(Contract):
    """A partner employer's aggregate figures for one period: women in technical roles at its start,
    hired during it, and kept (of those at the start, still in a technical role at its end; the
    retention rate is kept / women_technical); never a person."""

    SUBJECT: ClassVar[str] = "registration.retention.reported"
    programme_id: str
    company_id: str
    period: str  # "2026" or "2026-H1" or "2026-Q3"
    women_technical: int = Field(ge=0)
    hired: int = Field(ge=0)
    kept: int = Field(ge=0)
    revision: int = 1


class RegisterIndicatorsUpdated(Contract):
    """The ESF+ common output indicators of a programme's register, aggregated (per indicator a
    count per gender and in total); for staff figures, disclosure-controlled before any partner."""

    SUBJECT: ClassVar[str] = "registration.register.indicators"
    programme_id: str
    rows: list[dict[str, str | int]]
    as_of: datetime


class PupilsNamed(Contract):
    """The codes a school gave the pupils of a group, by pupil ref: the only event that carries them.

    Published on a subject of the group's own (`registration.pupils.<programme>.<group>.named`)
    whenever the group's pupils change; registration then purges the older ones from the stream
    (and every one when the programme's data expire), so an erased code leaves the stream too."""

    SUBJECT: ClassVar[str] = "registration.pupils.named"
    group_id: str
    school_id: str
    programme_id: str
    codes: dict[str, str] = Field(default_factory=dict)  # pupil_ref -> the school's code
    revision: int = 1

    def nats_subject(self) -> str:
        return names_subject(self.programme_id, self.group_id)


def names_subject(programme_id: str, group_id: str = "*") -> str:
    """The subject of a group's PupilsNamed events (`*`: every group of the programme)."""
    return f"registration.pupils.{programme_id}.{group_id}.named"


# --- matching -------------------------------------------------------------------------------


class RunCompleted(Contract):
    SUBJECT: ClassVar[str] = "matching.run.completed"
    run_id: str
    programme_id: str
    mode: AllocationMode
    seed: int
    placed_pupils: int
    unplaced_pupils: int
    splits: int
    placed_ratio: float
    first_choice_ratio: float | None = None
    mean_distance_km: float | None = None
    max_distance_km: float | None = None
    blocking_pairs: int | None = None
    optimality_gap: float | None = None
    duration_s: float
    inputs_digest: str
    # Preference figures (issue 15): shares of placed pupils (of groups that state a preference) at
    # their first-ranked and within their top three preferences, each with the bound the run proved
    # (an upper bound for an allocation placing as many pupils), so the gap is known.
    first_preference_ratio: float | None = None
    first_preference_bound: float | None = None
    top_three_ratio: float | None = None
    top_three_bound: float | None = None


class PlacementAssigned(Contract):
    SUBJECT: ClassVar[str] = "matching.placement.assigned"
    placement_id: str
    run_id: str
    programme_id: str
    group_id: str
    school_id: str
    activity_id: str
    company_id: str
    pupil_count: int = Field(ge=1)
    pupil_refs: list[str] = Field(default_factory=list)
    distance_km: float | None = None
    preference_rank: int | None = None
    reason: str = ""
    # The activity's time (Europe/Amsterdam offset kept), so a change notice can say when.
    slot_start: datetime | None = None
    slot_end: datetime | None = None
    # A re-allocation or a staff move: the placements this one replaces (cancelled in the same
    # change), the activity and time the group had before, and whether the time changed.
    replaces: list[str] = Field(default_factory=list)
    previous_activity_id: str | None = None
    previous_slot_start: datetime | None = None
    slot_changed: bool | None = None  # None: nothing replaced
    pinned: bool = False  # fixed by staff: later re-allocations leave it where it is
    decided_by: Literal["engine", "staff"] = "engine"


class PlacementCancelled(Contract):
    SUBJECT: ClassVar[str] = "matching.placement.cancelled"
    placement_id: str
    programme_id: str
    group_id: str
    school_id: str
    activity_id: str
    pupil_count: int
    pupil_refs: list[str] = Field(default_factory=list)
    reason: str = ""
    # The placements that take over from this one in the same change (empty: the group waits or
    # was withdrawn), and who decided.
    replaced_by: list[str] = Field(default_factory=list)
    decided_by: Literal["engine", "staff"] = "engine"


class GroupWaitlisted(Contract):
    SUBJECT: ClassVar[str] = "matching.group.waitlisted"
    programme_id: str
    group_id: str
    school_id: str
    pupil_count: int
    pupil_refs: list[str] = Field(default_factory=list)
    reason: str = ""


# --- surveys --------------------------------------------------------------------------------


class ResponseRecorded(Contract):
    SUBJECT: ClassVar[str] = "surveys.response.recorded"
    response_id: str
    programme_id: str
    phase: Phase
    school_id: str
    group_id: str | None = None
    activity_id: str | None = None


class ResultsUpdated(Contract):
    SUBJECT: ClassVar[str] = "surveys.results.updated"
    programme_id: str
    invited: dict[str, int] = Field(default_factory=dict)  # per phase
    responded: dict[str, int] = Field(default_factory=dict)  # per phase
    paired: int = 0
    effects: dict[str, dict[str, float | int | str | None]] = Field(default_factory=dict)


class ReminderDue(Contract):
    SUBJECT: ClassVar[str] = "surveys.reminder.due"
    programme_id: str
    school_id: str
    phase: Phase
    response_rate: float
    closes_at: datetime


# --- reporting ------------------------------------------------------------------------------


class KpiUpdated(Contract):
    """Aggregated figures for partners; published on reporting.public.<programme>.kpi.updated."""

    SUBJECT: ClassVar[str] = "reporting.public.kpi.updated"
    programme_id: str
    as_of: datetime
    figures: dict[str, int | float | None]
    suppressed: list[str] = Field(default_factory=list)
    threshold: int = 10
    rounding_base: int = 1  # published counts are multiples of this (docs/privacy.md, "Disclosure control")

    def nats_subject(self) -> str:
        return f"reporting.public.{self.programme_id}.kpi.updated"


# --- every service -----------------------------------------------------------------------------

AuditDetail = str | int | float | bool | None


class AuditRecorded(Contract):
    """A staff or machine action for the audit log (shared/audit.py): who did what, when, to what.

    Published by the service where the action happened, on `<service>.audit.recorded`; registration
    keeps the log. Ids only: the actor's name is looked up from the staff accounts, and no pupil
    data (codes, ages, consent) is ever part of an entry."""

    SUBJECT: ClassVar[str] = "audit.recorded"
    service: Literal["registration", "matching", "surveys", "reporting"]
    action: str = Field(pattern=r"^[a-z_]+\.[a-z_.]+$", max_length=64)  # e.g. programme.opened, run.started
    actor_kind: Literal["staff", "admin_token", "system"]
    actor_id: str | None = None  # the staff account id
    actor_role: str | None = None
    subject_type: str | None = Field(None, max_length=32)  # programme, school, group, run, placement, staff_account ...
    subject_id: str | None = Field(None, max_length=64)
    programme_id: str | None = None
    details: dict[str, AuditDetail] = Field(default_factory=dict)
    at: datetime

    def nats_subject(self) -> str:
        return f"{self.service}.audit.recorded"


@cache
def _all_contracts() -> dict[str, type[Contract]]:
    found: dict[str, type[Contract]] = {}
    stack = list(Contract.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        found[cls.type_name()] = cls
    return found


def contract_for_type(type_name: str) -> type[Contract]:
    """The model of a CloudEvents type; KeyError if the catalogue does not know it."""
    return _all_contracts()[type_name]
