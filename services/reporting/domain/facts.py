"""What each event of the catalogue says about the entities reporting keeps.

One function per event type, each returning the facts (partial entity states) it states. The
reporting service keeps no pupil references: an erasure has nothing to erase here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared import contracts as c

from .projection import Fact, make_version

# Placements have no revision of their own: a cancellation is final and outranks the assignment.
_ASSIGNED, _CANCELLED = 1, 2


def facts_for(data: c.Contract, *, event_id: str, time: datetime) -> list[Fact]:
    """The facts an event states; [] for events that change no projection."""
    handler = _HANDLERS.get(type(data))
    return handler(data, event_id, time) if handler else []


def _programme_opened(e: c.ProgrammeOpened, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "programme",
            e.programme_id,
            {
                "name": e.name,
                "kind": e.kind,
                "event_date": e.event_date.isoformat(),
                "target_pupils": e.target_pupils,
                "target_schools": e.target_schools,
                "target_companies": e.target_companies,
                "status": "open",
            },
            make_version(e.revision, time, event_id),
        )
    ]


def _programme_closed(e: c.ProgrammeClosed, event_id: str, time: datetime) -> list[Fact]:
    return [Fact("programme", e.programme_id, {"status": "closed"}, make_version(e.revision, time, event_id))]


def _school(e: c.SchoolRegistered, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "school",
            e.school_id,
            {
                "level": e.level,
                "province": e.province,
                "municipality": e.municipality,
            },
            make_version(0, time, event_id),
        )
    ]


def _company(e: c.CompanyRegistered, event_id: str, time: datetime) -> list[Fact]:
    fields = {"name": e.name, "province": e.province, "sectors": list(e.sectors)}  # an organisation's name, for staff tables
    return [Fact("company", e.company_id, fields, make_version(0, time, event_id))]


def _group(e: c.GroupRegistered, event_id: str, time: datetime) -> list[Fact]:
    fields = {
        "programme_id": e.programme_id,
        "school_id": e.school_id,
        "pupil_count": e.pupil_count,
        "status": "active",
    }
    if e.registered_at is not None or type(e) is c.GroupRegistered:
        fields["registered_on"] = (e.registered_at or time).date().isoformat()
    return [Fact("group", e.group_id, fields, make_version(e.revision, time, event_id))]


def _group_withdrawn(e: c.GroupWithdrawn, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "group",
            e.group_id,
            {
                "programme_id": e.programme_id,
                "school_id": e.school_id,
                "status": "withdrawn",
            },
            make_version(e.revision, time, event_id),
        )
    ]


def _activity(e: c.ActivityRegistered, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "activity",
            e.activity_id,
            {
                "programme_id": e.programme_id,
                "company_id": e.company_id,
                "sector": e.sector,
                "capacity": e.capacity,
                "province": e.province,
                "status": "active",
            },
            make_version(e.revision, time, event_id),
        )
    ]


def _activity_cancelled(e: c.ActivityCancelled, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "activity",
            e.activity_id,
            {
                "programme_id": e.programme_id,
                "company_id": e.company_id,
                "status": "cancelled",
            },
            make_version(e.revision, time, event_id),
        )
    ]


def _placement(e: c.PlacementAssigned, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "placement",
            e.placement_id,
            {
                "programme_id": e.programme_id,
                "group_id": e.group_id,
                "school_id": e.school_id,
                "activity_id": e.activity_id,
                "company_id": e.company_id,
                "pupil_count": e.pupil_count,
                "distance_km": e.distance_km,
                "preference_rank": e.preference_rank,
                "status": "assigned",
            },
            make_version(_ASSIGNED, time, event_id),
        )
    ]


def _placement_cancelled(e: c.PlacementCancelled, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "placement",
            e.placement_id,
            {
                "programme_id": e.programme_id,
                "group_id": e.group_id,
                "school_id": e.school_id,
                "activity_id": e.activity_id,
                "pupil_count": e.pupil_count,
                "status": "cancelled",
            },
            make_version(_CANCELLED, time, event_id),
        )
    ]


def _waitlisted(e: c.GroupWaitlisted, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "waitlist",
            f"{e.programme_id}:{e.group_id}",
            {
                "programme_id": e.programme_id,
                "group_id": e.group_id,
                "school_id": e.school_id,
                "pupil_count": e.pupil_count,
            },
            make_version(0, time, event_id),
        )
    ]


def _run(e: c.RunCompleted, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "run",
            e.programme_id,
            {
                "run_id": e.run_id,
                "placed_pupils": e.placed_pupils,
                "unplaced_pupils": e.unplaced_pupils,
                "splits": e.splits,
                "placed_ratio": e.placed_ratio,
                "first_choice_ratio": e.first_choice_ratio,
                "mean_distance_km": e.mean_distance_km,
                "duration_s": e.duration_s,
            },
            make_version(0, time, event_id),
        )
    ]


def _response(e: c.ResponseRecorded, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "response",
            e.response_id,
            {
                "programme_id": e.programme_id,
                "phase": e.phase,
                "school_id": e.school_id,
            },
            make_version(0, time, event_id),
        )
    ]


def _results(e: c.ResultsUpdated, event_id: str, time: datetime) -> list[Fact]:
    return [
        Fact(
            "survey",
            e.programme_id,
            {
                "invited": dict(e.invited),
                "responded": dict(e.responded),
                "paired": e.paired,
                "effects": {k: dict(v) for k, v in e.effects.items()},
            },
            make_version(0, time, event_id),
        )
    ]


# --- energy-transition programmes: participants (ids only), attendance, retention, indicators ---


def _participant(e: c.ParticipantRegistered, event_id: str, time: datetime) -> list[Fact]:
    fields = {"programme_id": e.programme_id, "target_group": e.target_group, "employer_id": e.employer_id, "status": "active"}
    return [Fact("participant", e.participant_id, fields, make_version(e.revision, time, event_id))]


def _participant_erased(e: c.ParticipantErased, event_id: str, time: datetime) -> list[Fact]:
    # Final: outranks every revision. What stays is an anonymous count of someone who took part.
    return [
        Fact("participant", e.participant_id, {"programme_id": e.programme_id, "status": "erased"}, make_version(10**9, time, event_id))
    ]


def _attendance(e: c.AttendanceRecorded, event_id: str, time: datetime) -> list[Fact]:
    fields = {"programme_id": e.programme_id, "activity_id": e.activity_id, "attended": e.attended, "day": e.day.isoformat()}
    return [Fact("attendance", f"{e.participant_id}/{e.activity_id}", fields, make_version(0, time, event_id))]


def _retention(e: c.RetentionReported, event_id: str, time: datetime) -> list[Fact]:
    fields = {"programme_id": e.programme_id, "company_id": e.company_id, "period": e.period,
              "women_technical": e.women_technical, "hired": e.hired, "kept": e.kept}  # fmt: skip
    return [Fact("retention", f"{e.programme_id}/{e.company_id}/{e.period}", fields, make_version(e.revision, time, event_id))]


def _indicators(e: c.RegisterIndicatorsUpdated, event_id: str, time: datetime) -> list[Fact]:
    # Versioned by time: the newest table of the register wins, whatever order the events come in.
    return [Fact("register", e.programme_id, {"rows": list(e.rows), "as_of": e.as_of.isoformat()}, make_version(0, e.as_of, event_id))]


_HANDLERS: dict[type, Callable[..., list[Fact]]] = {
    c.ProgrammeOpened: _programme_opened,
    c.ProgrammeClosed: _programme_closed,
    c.SchoolRegistered: _school,
    c.CompanyRegistered: _company,
    c.GroupRegistered: _group,
    c.GroupUpdated: _group,
    c.GroupWithdrawn: _group_withdrawn,
    c.ActivityRegistered: _activity,
    c.ActivityUpdated: _activity,
    c.ActivityCancelled: _activity_cancelled,
    c.PlacementAssigned: _placement,
    c.PlacementCancelled: _placement_cancelled,
    c.GroupWaitlisted: _waitlisted,
    c.RunCompleted: _run,
    c.ResponseRecorded: _response,
    c.ResultsUpdated: _results,
    c.ParticipantRegistered: _participant,
    c.ParticipantUpdated: _participant,
    c.ParticipantErased: _participant_erased,
    c.AttendanceRecorded: _attendance,
    c.RetentionReported: _retention,
    c.RegisterIndicatorsUpdated: _indicators,
}
