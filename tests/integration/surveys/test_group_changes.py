"""A placed group's pupils change after publishing: the added get links, the taken out lose their unused ones."""

from __future__ import annotations

from services.surveys.app import build_app
from services.surveys.config import SurveysConfig
from shared.contracts import GroupUpdated, PupilRef
from tests.conftest import ADMIN, running
from tests.helpers import eventually

from .helpers import ANSWERS, Clock, group, placement, programme, publish
from .test_surveys_flow import BEFORE, EVENT_DAY, REFS


def updated(refs: list[str], revision: int, *, group_id="g-1", school_id="12AB", pupil_count=14, no_consent=()) -> GroupUpdated:
    return GroupUpdated(
        group_id=group_id,
        school_id=school_id,
        programme_id="gd-2027",
        pupil_count=pupil_count,
        pupils=[PupilRef(pupil_ref=r, age=12, parental_consent=r not in no_consent) for r in refs],
        revision=revision,
    )


async def _overview(client, expect):
    """The teacher page's data once it lists `expect` pupils: {code: {phase: token}, ...}, {code: activity}."""
    link = (await client.get("/api/v1/admin/teacher-links/gd-2027/12AB", headers=ADMIN)).json()["url"]
    key = link.split("key=")[1]

    async def listed():
        data = (await client.get("/api/v1/teacher/gd-2027/12AB", params={"key": key})).json()
        pupils = {p["pupil_ref"]: p for g in data["groups"] for p in g["pupils"]}
        return pupils if set(pupils) == set(expect) else None

    return await eventually(listed)


def _service(settings):
    return running(build_app(settings, SurveysConfig(results_interval_s=0.2, reminder_interval_s=3600), Clock(BEFORE)))


async def test_pupils_added_after_publishing_get_links_and_a_pupil_taken_out_loses_her_unused_one(settings, js, topology):
    async with _service(settings) as client:
        await publish(js, topology, programme(EVENT_DAY))
        await publish(js, topology, group("g-1", "12AB", REFS))
        await publish(js, topology, placement("pl-1", "g-1", "12AB", REFS))
        before = await _overview(client, REFS)
        answered = await client.post(f"/api/v1/surveys/{before['pup-01']['pre']['token']}/response", json={"answers": ANSWERS})
        assert answered.status_code == 201

        now = [r for r in REFS if r not in ("pup-01", "pup-02")] + ["new-1", "new-2"]
        await publish(js, topology, updated(now, 2, no_consent=("new-2",)))
        after = await _overview(client, set(now) | {"pup-01"})  # pup-01 keeps only the answer she gave

        assert {"pre", "post"} <= set(after["new-1"]) and after["new-1"]["activity_id"] == "act-1"
        assert after["pup-00"]["pre"]["token"] == before["pup-00"]["pre"]["token"]  # the others keep their links
        assert "post" not in after["pup-01"] and after["pup-01"]["pre"]["responded"]
        new = (await client.get(f"/api/v1/surveys/{after['new-1']['pre']['token']}")).status_code
        assert new == 200
        gone = await client.get(f"/api/v1/surveys/{before['pup-02']['pre']['token']}")
        assert gone.status_code == 404


async def test_in_a_split_group_a_pupil_added_joins_the_part_with_places_left(settings, js, topology):
    first, second = REFS[:6], REFS[6:10]
    async with _service(settings) as client:
        await publish(js, topology, programme(EVENT_DAY))
        await publish(js, topology, group("g-1", "12AB", first + second))
        await publish(js, topology, placement("pl-1", "g-1", "12AB", first, activity_id="act-1"))
        part = placement("pl-2", "g-1", "12AB", second, activity_id="act-2").model_copy(update={"pupil_count": 6})
        await publish(js, topology, part)
        await _overview(client, first + second)
        await publish(js, topology, updated(first + second + ["new-1", "new-2", "new-3"], 2))
        after = await _overview(client, first + second + ["new-1", "new-2", "new-3"])
        assert [after[r]["activity_id"] for r in ("new-1", "new-2", "new-3")] == ["act-2", "act-2", "act-1"]


async def test_an_older_group_revision_arriving_late_changes_nothing(settings, js, topology):
    async with _service(settings) as client:
        await publish(js, topology, programme(EVENT_DAY))
        await publish(js, topology, group("g-1", "12AB", REFS))
        await publish(js, topology, placement("pl-1", "g-1", "12AB", REFS))
        await publish(js, topology, updated(REFS + ["new-1"], 3))
        await _overview(client, REFS + ["new-1"])
        await publish(js, topology, updated(REFS[:5], 2))
        await publish(js, topology, updated(REFS + ["new-1", "new-2"], 4))
        after = await _overview(client, REFS + ["new-1", "new-2"])
        assert len(after) == len(REFS) + 2


async def test_in_individual_mode_an_added_pupil_waits_for_matching_to_place_her(settings, js, topology):
    async with _service(settings) as client:
        await publish(js, topology, programme(EVENT_DAY).model_copy(update={"allocation_mode": "individual"}))
        await publish(js, topology, group("g-1", "12AB", ["e1", "e2"]))
        await publish(js, topology, placement("pl-1", "g-1", "12AB", ["e1"], activity_id="act-1"))
        await publish(js, topology, placement("pl-2", "g-1", "12AB", ["e2"], activity_id="act-2"))
        await _overview(client, ["e1", "e2"])
        await publish(js, topology, updated(["e1", "e2", "e3"], 2))
        await publish(js, topology, placement("pl-3", "g-1", "12AB", ["e3"], activity_id="act-3"))
        after = await _overview(client, ["e1", "e2", "e3"])
        assert after["e3"]["activity_id"] == "act-3"
