"""A small scripted edition (registrations, allocation, surveys) and the figures it must give."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from shared import contracts as c
from shared.envelope import CloudEvent

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
P = "gd26"


def _group(group_id, school_id, pupils, day, revision=1, kind=c.GroupRegistered):
    return kind(
        group_id=group_id,
        school_id=school_id,
        programme_id=P,
        pupil_count=pupils,
        revision=revision,
        registered_at=datetime(2026, 2, day, 10, tzinfo=UTC),
    )


def _activity(activity_id, company_id, sector, capacity):
    return c.ActivityRegistered(
        activity_id=activity_id,
        company_id=company_id,
        programme_id=P,
        title=f"Activity {activity_id}",
        sector=sector,
        capacity=capacity,
        postcode="3511 AB",
    )


def _placement(pid, group_id, school_id, activity_id, company_id, pupils, km):
    return c.PlacementAssigned(
        placement_id=pid,
        run_id="run1",
        programme_id=P,
        group_id=group_id,
        school_id=school_id,
        activity_id=activity_id,
        company_id=company_id,
        pupil_count=pupils,
        distance_km=km,
    )


def edition_data() -> list[c.Contract]:
    return [
        c.ProgrammeOpened(
            programme_id=P,
            kind="girls_day",
            name="Girls' Day 2026",
            event_date=date(2026, 4, 9),
            registration_opens=T0,
            registration_closes=T0 + timedelta(days=40),
            target_pupils=100,
            target_schools=5,
            target_companies=3,
            allocation_mode="groups",
            min_group_size=10,
            min_age=10,
            max_age=15,
        ),
        c.SchoolRegistered(school_id="s1", brin="12AB", name="A", level="vo", postcode="3511 AB", province="Utrecht"),
        c.SchoolRegistered(school_id="s2", brin="13AB", name="B", level="po", postcode="3512 AB", province="Utrecht"),
        c.SchoolRegistered(school_id="s3", brin="14AB", name="C", level="vo", postcode="8911 AB", province="Fryslân"),
        c.CompanyRegistered(company_id="c1", kvk="12345678", name="Net", sectors=["energie"], postcode="3511 AB", province="Utrecht"),
        c.CompanyRegistered(company_id="c2", kvk="87654321", name="Soft", sectors=["ict"], postcode="8911 AB", province="Fryslân"),
        _activity("a1", "c1", "energie", 40),
        _activity("a2", "c2", "ict", 30),
        _activity("a3", "c1", "energie", 10),
        c.ActivityCancelled(activity_id="a3", company_id="c1", programme_id=P, revision=2),
        _group("g1", "s1", 20, 2),
        _group("g2", "s2", 15, 2),
        _group("g2", "s2", 18, 2, revision=2, kind=c.GroupUpdated),
        _group("g3", "s3", 25, 3),
        _group("g4", "s3", 12, 3),
        c.GroupWithdrawn(group_id="g4", school_id="s3", programme_id=P, revision=2),
        _group("g5", "s1", 11, 4),
        _placement("p1", "g1", "s1", "a1", "c1", 20, 10.0),
        _placement("p2", "g3", "s3", "a2", "c2", 15, 30.0),
        _placement("p3", "g3", "s3", "a1", "c1", 10, 20.0),
        _placement("p4", "g2", "s2", "a1", "c1", 18, 5.0),
        c.PlacementCancelled(placement_id="p4", programme_id=P, group_id="g2", school_id="s2", activity_id="a1", pupil_count=18),
        c.GroupWaitlisted(programme_id=P, group_id="g2", school_id="s2", pupil_count=18),
        c.RunCompleted(
            run_id="run1",
            programme_id=P,
            mode="groups",
            seed=1,
            placed_pupils=45,
            unplaced_pupils=29,
            splits=1,
            placed_ratio=0.61,
            duration_s=0.2,
            inputs_digest="x",
        ),
        *[c.ResponseRecorded(response_id=f"r{i}", programme_id=P, phase="pre", school_id="s1") for i in range(3)],
        c.ResponseRecorded(response_id="r9", programme_id=P, phase="post", school_id="s1"),
        c.ResultsUpdated(
            programme_id=P,
            invited={"pre": 40, "post": 40},
            responded={"pre": 30, "post": 20},
            paired=18,
            effects={"interest": {"mean_pre": 2.5, "mean_post": 3.1}},
        ),
        c.ReminderDue(programme_id=P, school_id="s1", phase="post", response_rate=0.5, closes_at=T0),
        c.PupilErased(pupil_ref="x-1"),
    ]


def edition_events() -> list[CloudEvent]:
    """The edition as CloudEvents, a second apart, in the order things happened."""
    return [
        CloudEvent(id=str(uuid.uuid4()), source="/test", type=data.TYPE, time=T0 + timedelta(seconds=i), data=data.model_dump(mode="json"))
        for i, data in enumerate(edition_data())
    ]


EXPECTED_TOTALS = {
    "schools": 3,
    "groups": 4,
    "pupils": 74,
    "companies": 2,
    "activities": 2,
    "capacity": 70,
    "placements": 3,
    "placed_groups": 2,
    "placed_pupils": 45,
    "unplaced_groups": 2,
    "unplaced_pupils": 29,
    "waitlisted_groups": 1,
    "waitlisted_pupils": 18,
    "split_groups": 1,
}
EXPECTED_PROVINCES = {
    "Fryslân": {
        "schools": 1,
        "groups": 1,
        "pupils": 25,
        "placed_pupils": 25,
        "unplaced_pupils": 0,
        "companies": 1,
        "activities": 1,
        "capacity": 30,
        "mean_distance_km": 25.0,
    },
    "Utrecht": {
        "schools": 2,
        "groups": 3,
        "pupils": 49,
        "placed_pupils": 20,
        "unplaced_pupils": 29,
        "companies": 1,
        "activities": 1,
        "capacity": 40,
        "mean_distance_km": 10.0,
    },
}
EXPECTED_SECTORS = {
    "energie": {"companies": 1, "activities": 1, "capacity": 40, "placed_pupils": 30},
    "ict": {"companies": 1, "activities": 1, "capacity": 30, "placed_pupils": 15},
}
EXPECTED_DAYS = [("2026-02-02", 2, 38), ("2026-02-03", 1, 25), ("2026-02-04", 1, 11)]


async def publish(js, topology, event: CloudEvent, *, dedup: bool = True) -> None:
    data = event.contract()
    subject = data.nats_subject()
    headers = {"Nats-Msg-Id": event.id} if dedup else None
    await js.publish(topology.subject(subject), event.to_bytes(), stream=topology.stream_for_subject(subject), headers=headers)
