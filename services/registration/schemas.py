"""Request and response bodies of the HTTP API (the rules live in `domain/`).

Unknown fields are refused (`extra="forbid"`), strings are bounded and free of control
characters, numbers are finite: what passes here can always be stored on SQLite and PostgreSQL.
The formats of identifiers (BRIN, KvK, postcode, e-mail, phone, sector) are checked here too, with
the domain's own normalisers, so one answer names every field's error at once; the rules that need
the programme (sizes, ages, preferences) follow in the service layer.

Edits: `PUT` replaces a group or activity and needs every field; `PATCH` merges (RFC 7396 JSON
merge patch: the fields given replace the stored ones, objects merge, `null` clears an optional
field, lists are replaced whole).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, PydanticUndefined

from services.registration.domain import activities as adom
from services.registration.domain import identifiers as ids
from services.registration.domain.errors import Invalid, Violation
from services.registration.domain.identifiers import SECTORS

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")  # below 32, except tab and newline


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError("control_characters", "text must not contain control characters")
    return value


def Text(max_length: int, min_length: int = 0, **kw):  # noqa: N802 - reads as a type
    return Annotated[str, Field(min_length=min_length, max_length=max_length, **kw), AfterValidator(_printable)]


def Format(normalise):  # noqa: N802 - reads as a type
    """A domain normaliser as a validator: its rule becomes the error's type (`brin_format`, ...)."""

    def check(value: str) -> str:
        try:
            return normalise(value)
        except ids.RuleError as e:
            raise PydanticCustomError(e.rule, e.message) from None

    return AfterValidator(check)


Age = Annotated[int, Field(ge=4, le=25)]
Id = Text(64, 1)
Sector = Annotated[Text(40), Format(ids.sector)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def every_field(model: type[BaseModel], name: str, *, required: bool, **annotations) -> type[Body]:
    """`model`'s fields with their constraints, each required (a PUT replaces, so it names every
    field) or each optional without a default (a PATCH: only what was sent counts, see
    `model_fields_set`). `annotations` swaps a field's type (a nested object's own variant)."""
    fields = {}
    for field_name, info in model.model_fields.items():
        variant = FieldInfo.merge_field_infos(info)
        variant.default, variant.default_factory = (PydanticUndefined if required else None), None
        fields[field_name] = (annotations.get(field_name, info.annotation), variant)
    return create_model(name, __base__=Body, **fields)


def validated(model: type[BaseModel], data: dict):
    """`model` of `data` the service layer put together (a merged patch): its errors as a 422's."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise Invalid([Violation(".".join(str(p) for p in err["loc"]), err["type"], err["msg"]) for err in e.errors()]) from None


def merge_patch(target: dict, patch: dict) -> dict:
    """RFC 7396: members of `patch` replace those of `target`, objects merge, null removes."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


# --- programmes -------------------------------------------------------------------------------


class Targets(Body):
    pupils: int = Field(0, ge=0, le=1_000_000)
    schools: int = Field(0, ge=0, le=100_000)
    companies: int = Field(0, ge=0, le=100_000)


class ProgrammeIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "girls_day",
                    "name": "Girls' Day 2027",
                    "event_date": "2027-04-08",
                    "opens_at": "2027-01-11T09:00:00+01:00",
                    "closes_at": "2027-03-12T17:00:00+01:00",
                    "targets": {"pupils": 12000, "schools": 400, "companies": 450},
                    "allocation_mode": "groups",
                    "min_group_size": 10,
                    "min_age": 10,
                    "max_age": 15,
                }
            ]
        }
    )
    kind: Literal["girls_day", "energy_transition"]
    name: Text(200, 1)
    event_date: date
    opens_at: datetime = Field(description="registration opens; an offset is kept, a time without one is Dutch time (Europe/Amsterdam)")
    closes_at: datetime = Field(description="the registration deadline (as opens_at); answers give both in Dutch time")
    targets: Targets = Targets()
    allocation_mode: Literal["groups", "individual"] | None = Field(
        None, description="default: groups for girls_day, individual for energy_transition"
    )
    min_group_size: int | None = Field(None, ge=1, le=500, description="default 10 for girls_day")
    max_group_size: int | None = Field(None, ge=1, le=1000)
    min_age: Age | None = None
    max_age: Age | None = None


class ProgrammeOut(BaseModel):
    id: str
    kind: str
    name: str
    event_date: date
    opens_at: datetime
    closes_at: datetime
    allocation_mode: str
    min_group_size: int
    max_group_size: int | None
    min_age: int
    max_age: int
    targets: Targets
    status: Literal["draft", "open", "closed"]
    revision: int


# --- schools and companies --------------------------------------------------------------------


class ContactIn(Body):
    name: Text(200, 1)
    email: Annotated[Text(254, 1, examples=["j.devries@hetbaken.nl"]), Format(ids.email)]
    phone: Annotated[Text(32), Format(lambda v: ids.phone(v) if v.strip() else "")] = ""


class SchoolIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "brin": "12AB",
                    "name": "Het Baken",
                    "level": "vo",
                    "postcode": "3511 AB",
                    "municipality": "Utrecht",
                    "contact": {"name": "J. de Vries", "email": "j.devries@hetbaken.nl", "phone": "030 123 4567"},
                }
            ]
        }
    )
    brin: Annotated[Text(16, description="2 digits and 2 letters", examples=["12AB"]), Format(ids.brin)]
    name: Text(200, 1)
    level: Literal["po", "vo", "mbo"]
    postcode: Annotated[Text(16, description="Dutch postcode, 1234 AB", examples=["3511 AB"]), Format(ids.postcode)]
    municipality: Text(100) = Field("", description="derived from the postcode when empty")
    contact: ContactIn


class CompanyIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kvk": "12345678",
                    "name": "TechWerk BV",
                    "sectors": ["engineering", "energy"],
                    "postcode": "5612 AB",
                    "contact": {"name": "A. Jansen", "email": "a.jansen@techwerk.nl"},
                }
            ]
        }
    )
    kvk: Annotated[Text(16, description="8 digits (spaces and dots are ignored)", examples=["12345678"]), Format(ids.kvk)]
    name: Text(200, 1)
    sectors: list[Sector] = Field(min_length=1, max_length=10, description=f"from: {', '.join(SECTORS)}")
    postcode: Annotated[Text(16, examples=["5612 AB"]), Format(ids.postcode)]
    contact: ContactIn


class Contact(BaseModel):
    name: str
    email: str
    phone: str | None


class SchoolOut(BaseModel):
    id: str
    brin: str
    name: str
    level: str
    postcode: str
    municipality: str | None
    province: str | None
    contact: Contact


class CompanyOut(BaseModel):
    id: str
    kvk: str
    name: str
    sectors: list[str]
    postcode: str
    municipality: str | None
    province: str | None
    contact: Contact


class SchoolRegisteredOut(BaseModel):
    school: SchoolOut
    account_secret: str = Field(description="shown once; send it as `Authorization: Bearer <secret>`")


class CompanyRegisteredOut(BaseModel):
    company: CompanyOut
    account_secret: str = Field(description="shown once; send it as `Authorization: Bearer <secret>`")


# --- groups -------------------------------------------------------------------------------


class SplitIn(Body):
    may_split: bool = False
    max_parts: int = Field(1, ge=1, le=20)
    min_part_size: int | None = Field(None, ge=1, le=500)


class PupilIn(Body):
    pupil_ref: Text(24, 1, description="a code the school chooses; never a name")
    age: Age | None = None
    parental_consent: bool = Field(False, description="a parent consented to the surveys (needed under 16)")
    ranking: list[Id] = Field(default_factory=list, max_length=10, description="activity ids, best first (individual mode)")


class GroupFields(Body):
    pupil_count: int = Field(ge=1, le=500)
    grades: list[Text(20)] = Field(default_factory=list, max_length=12, examples=[["groep 7", "groep 8"]])
    ages: list[Age] = Field(default_factory=list, max_length=12)
    teacher_name: Text(200) = Field("", description="accompanying teacher (never published in events)")
    preferred_sectors: list[Sector] = Field(default_factory=list, max_length=10)
    preferred_activities: list[Id] = Field(default_factory=list, max_length=10)
    max_travel_km: float | None = Field(None, gt=0, le=1000)
    split: SplitIn = SplitIn()
    pupils: list[PupilIn] = Field(default_factory=list, max_length=500)


GROUP_EXAMPLE = {
    "pupil_count": 14,
    "grades": ["klas 2"],
    "ages": [13, 14],
    "teacher_name": "Mw. Bakker",
    "preferred_sectors": ["ict", "energy"],
    "max_travel_km": 30,
    "split": {"may_split": True, "max_parts": 2, "min_part_size": 7},
    "pupils": [{"pupil_ref": "2b-01", "age": 13, "parental_consent": True}],
}


class GroupIn(GroupFields):
    model_config = ConfigDict(json_schema_extra={"examples": [{"programme_id": "6f1c…", **GROUP_EXAMPLE}]})
    programme_id: Id


class GroupUpdate(every_field(GroupFields, "GroupReplacement", required=True)):
    """PUT: the group as a whole; every field is required (leaving one out would clear it)."""

    model_config = ConfigDict(json_schema_extra={"examples": [GROUP_EXAMPLE]})


class SplitPatch(every_field(SplitIn, "SplitChanges", required=False)):
    pass


class GroupPatch(every_field(GroupFields, "GroupChanges", required=False, split=SplitPatch)):
    """PATCH: only the fields given change; `null` clears an optional one (travel limit, part size)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"pupil_count": 27}, {"split": {"may_split": False}}]})


class RankingsIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"rankings": {"2b-01": ["<activity id>", "<activity id>"]}}]})
    rankings: dict[Text(24, 1), list[Id]] = Field(max_length=500, description="pupil code -> activity ids, best first")


class GroupOut(GroupFields):
    model_config = ConfigDict(extra="ignore")
    id: str
    school_id: str
    programme_id: str
    status: Literal["registered", "withdrawn"]
    revision: int


# --- activities ---------------------------------------------------------------------------


class ActivityFields(Body):
    title: Text(200, 1)
    description: Text(4000) = ""
    sector: Sector
    capacity: int = Field(gt=0, le=2000, description="places (pupils); must be greater than 0")
    levels: list[Literal["po", "vo", "mbo"]] = Field(
        default_factory=list, max_length=3, description="school levels it suits (Girls' Day: at least one)"
    )
    min_age: Age | None = Field(None, description="Girls' Day: required; energy transition: optional")
    max_age: Age | None = None
    starts_at: time
    ends_at: time
    postcode: Annotated[Text(16), Format(ids.postcode)]
    address: Text(300) = ""
    wheelchair_accessible: bool = False
    accessibility_notes: Text(1000) = ""
    format: Literal["visit", "site_visit", "taster_day", "workshop", "training"] | None = Field(
        None, description="Girls' Day: visit; energy transition: site_visit (the default), taster_day, workshop or training"
    )
    audience: list[Literal["student_mbo", "student_hbo", "career_switcher", "employee", "team_leader"]] = Field(
        default_factory=list, max_length=5, description="energy transition: the target groups it is for (empty: everyone)"
    )

    # Rules between two fields, checked with the others (each field's error in one answer); the
    # rules against the programme follow in the service layer.
    @field_validator("max_age")
    @classmethod
    def _ages_in_order(cls, max_age: int | None, info: ValidationInfo) -> int | None:
        return max_age if max_age is None else _pair(adom.age_order, info.data.get("min_age"), max_age)

    @field_validator("ends_at")
    @classmethod
    def _slot_in_order(cls, ends_at: time, info: ValidationInfo) -> time:
        return _pair(adom.slot_order, info.data.get("starts_at"), ends_at)


def _pair(rule, first, second):
    """`second` unless `rule(first, second)` finds a problem (no check when `first` was invalid itself)."""
    if first is not None and (problem := rule(first, second)):
        raise PydanticCustomError(problem.rule, problem.message)
    return second


ACTIVITY_EXAMPLE = {
    "title": "Bouw je eigen robot",
    "description": "Programmeer een robot met onze engineers.",
    "sector": "engineering",
    "capacity": 24,
    "levels": ["po", "vo"],
    "min_age": 10,
    "max_age": 14,
    "starts_at": "09:30",
    "ends_at": "12:30",
    "postcode": "5612 AB",
    "address": "Hoofdstraat 1, Eindhoven",
    "wheelchair_accessible": True,
}


class ActivityIn(ActivityFields):
    model_config = ConfigDict(json_schema_extra={"examples": [{"programme_id": "6f1c…", **ACTIVITY_EXAMPLE}]})
    programme_id: Id


class ActivityUpdate(every_field(ActivityFields, "ActivityReplacement", required=True)):
    """PUT: the activity as a whole; every field is required."""

    model_config = ConfigDict(json_schema_extra={"examples": [ACTIVITY_EXAMPLE]})


class ActivityPatch(every_field(ActivityFields, "ActivityChanges", required=False)):
    """PATCH: only the fields given change. A change of capacity alone is allowed until the event day."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"capacity": 30}, {"title": "Bouw en programmeer je eigen robot"}]})


class CapacityIn(Body):
    capacity: int = Field(gt=0, le=2000, examples=[30])


class ActivityOut(ActivityFields):
    model_config = ConfigDict(extra="ignore")
    id: str
    company_id: str
    programme_id: str
    status: Literal["registered", "cancelled"]
    revision: int


class ImportRow(BaseModel):
    line: int
    key: str
    status: Literal["created", "unchanged", "conflict", "rejected"]
    id: str | None = None
    account_secret: str | None = None
    errors: list[dict] = Field(default_factory=list)


class ImportReport(BaseModel):
    kind: Literal["school", "company"]
    created: int
    unchanged: int
    conflict: int
    rejected: int
    rows: list[ImportRow]
    file_errors: list[dict] = Field(default_factory=list)


# --- the ESF+ participant register (energy-transition programmes) -------------------------------


class ParticipantIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Fatima Yilmaz",
                    "email": "fatima@example.nl",
                    "bsn": "111222333",
                    "gender": "female",
                    "target_group": "career_switcher",
                    "age_band": "30-54",
                    "isced": "3-4",
                    "labour_status": "employed",
                    "postcode": "6811 AB",
                    "ranking": [],
                    "consents": {"register": True, "contact": True},
                }
            ]
        }
    )
    name: Text(200, 1)
    email: Text(254, 1)
    phone: Text(32) = ""
    postcode: Text(16) = ""
    bsn: Text(16) = Field("", description="the BSN; or leave empty and give the onderwijsnummer")
    onderwijsnummer: Text(16) = ""
    birth_date: date | None = Field(None, description="needed for students (mbo, hbo); others give their age band")
    age_band: Literal["<18", "18-29", "30-54", "55+"] | None = None
    gender: Literal["female", "male", "non_binary"]
    target_group: Literal["student_mbo", "student_hbo", "career_switcher", "employee", "team_leader"]
    isced: Literal["0-2", "3-4", "5-8"] = Field(description="education level at entry (ISCED band)")
    labour_status: Literal["employed", "self_employed", "unemployed", "long_term_unemployed", "inactive", "in_education"]
    ranking: list[Id] = Field(default_factory=list, max_length=5, description="site visits or taster days, best first")
    consents: dict[Literal["register", "contact", "survey"], bool] = Field(default_factory=dict)


class AttendanceIn(Body):
    day: date
    attended: list[Id] = Field(default_factory=list, max_length=1000)
    absent: list[Id] = Field(default_factory=list, max_length=1000)


class RetentionIn(Body):
    women_technical: int = Field(ge=0, le=1_000_000, description="women in technical roles at the start of the period")
    hired: int = Field(ge=0, le=1_000_000, description="women hired into technical roles during the period")
    kept: int = Field(
        ge=0, le=1_000_000, description="of those at the start, still in a technical role at its end (retention = kept / start)"
    )
    company_id: Id | None = Field(None, description="staff only: the employer these figures are of")


class KeepUntilIn(Body):
    keep_until: date = Field(description="the legal end date: after it the register's participants are deleted")
