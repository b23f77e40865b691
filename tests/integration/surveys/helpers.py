"""Helpers of the surveys integration tests: hand-made upstream events, a settable clock."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from shared.contracts import (
    GroupRegistered,
    PlacementAssigned,
    PlacementCancelled,
    ProgrammeOpened,
    PupilErased,
    PupilRef,
)
from shared.envelope import make_event

ANSWERS = {
    "self_efficacy_good_at_tech": 2,
    "self_efficacy_solve_problem": 3,
    "interest_tech": 3,
    "interest_jobs": 2,
    "intention_technical_study": "no",
}


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


async def publish(js, topology, data) -> None:
    subject = data.nats_subject()
    await js.publish(topology.subject(subject), make_event(data, source="/test").to_bytes(), stream=topology.stream_for_subject(subject))


def programme(event_date: date, programme_id: str = "gd-2027") -> ProgrammeOpened:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    return ProgrammeOpened(
        programme_id=programme_id,
        kind="girls_day",
        name="Girls' Day 2027",
        event_date=event_date,
        registration_opens=start,
        registration_closes=start + timedelta(days=60),
        target_pupils=1000,
        target_schools=50,
        target_companies=50,
        allocation_mode="groups",
        min_group_size=10,
        min_age=10,
        max_age=15,
    )


def group(
    group_id: str, school_id: str, refs: list[str], *, no_consent: tuple[str, ...] = (), age: int = 13, programme_id: str = "gd-2027"
) -> GroupRegistered:
    return GroupRegistered(
        group_id=group_id,
        school_id=school_id,
        programme_id=programme_id,
        pupil_count=len(refs),
        pupils=[PupilRef(pupil_ref=r, age=age, parental_consent=r not in no_consent) for r in refs],
    )


def placement(
    placement_id: str, group_id: str, school_id: str, refs: list[str], activity_id: str = "act-1", programme_id: str = "gd-2027"
) -> PlacementAssigned:
    return PlacementAssigned(
        placement_id=placement_id,
        run_id="run-1",
        programme_id=programme_id,
        group_id=group_id,
        school_id=school_id,
        activity_id=activity_id,
        company_id="c-1",
        pupil_count=len(refs),
        pupil_refs=refs,
    )


def cancelled(p: PlacementAssigned) -> PlacementCancelled:
    return PlacementCancelled(
        placement_id=p.placement_id,
        programme_id=p.programme_id,
        group_id=p.group_id,
        school_id=p.school_id,
        activity_id=p.activity_id,
        pupil_count=p.pupil_count,
        pupil_refs=p.pupil_refs,
    )


def erased(ref: str, group_id: str = "g-1") -> PupilErased:
    return PupilErased(pupil_ref=ref, group_id=group_id, programme_id="gd-2027")


async def surveys_events(js, topology, wait: float = 0.5) -> list[dict]:
    """Every event on this test's SURVEYS stream so far (as CloudEvent dicts)."""
    sub = await js.subscribe(topology.subject("surveys.>"), ordered_consumer=True)
    found = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=wait)
            except TimeoutError:
                return found
            found.append(json.loads(msg.data))
    finally:
        await sub.unsubscribe()
