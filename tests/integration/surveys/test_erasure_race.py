"""An erasure wins over every event that names the pupil and is handled after it (surveys reads
REGISTRATION and MATCHING through two durables, which nothing orders)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.contracts import PupilsNamed
from tests.helpers import eventually
from tests.integration.surveys.helpers import Clock, erased, group, placement, programme, publish
from tests.integration.surveys.test_surveys_flow import surveys_service

BEFORE = datetime(2027, 4, 1, 10, tzinfo=UTC)
KEY_PATH = "/api/v1/admin/teacher-links/gd-2027/12AB"
ADMIN = {"Authorization": "Bearer test-admin-token"}


async def overview(client) -> dict:
    key = (await client.get(KEY_PATH, headers=ADMIN)).json()["url"].split("key=")[1]
    return (await client.get("/api/v1/teacher/gd-2027/12AB", params={"key": key})).json()


def listed(found: dict) -> list[str]:
    return [p["code"] for g in found["groups"] for p in g["pupils"]]


async def test_surveys_down_while_a_placement_is_published_and_the_pupil_erased_issues_her_no_tokens(settings, js, topology):
    # surveys is down: registration registers the group and names its pupils, matching places it,
    # then the school erases one pupil; then surveys comes back and reads both streams
    await publish(js, topology, programme(date(2027, 4, 8)))
    await publish(js, topology, PupilsNamed(group_id="g-1", school_id="12AB", programme_id="gd-2027", codes={"r-a": "ann", "r-b": "bo"}))
    await publish(js, topology, group("g-1", "12AB", ["r-a", "r-b"]))
    await publish(js, topology, placement("p-1", "g-1", "12AB", ["r-a", "r-b"]))
    await publish(js, topology, erased("r-a"))
    await publish(js, topology, PupilsNamed(group_id="g-1", school_id="12AB", programme_id="gd-2027", codes={"r-b": "bo"}, revision=2))
    async with surveys_service(settings, Clock(BEFORE)) as client:

        async def settled():
            found = await overview(client)
            return found if listed(found) else None

        await eventually(settled)
        await eventually(lambda: _consumed(js, topology))
        assert listed(await overview(client)) == ["bo"]


async def test_a_placement_handled_after_the_erasure_gives_the_erased_pupil_no_tokens(settings, js, topology):
    # the order that issued fresh tokens to an erased pupil: her erasure (REGISTRATION) is handled
    # before the placement that names her (MATCHING), published before the erasure
    async with surveys_service(settings, Clock(BEFORE)) as client:
        await publish(js, topology, programme(date(2027, 4, 8)))
        codes = {"r-a": "ann", "r-b": "bo"}
        await publish(js, topology, PupilsNamed(group_id="g-1", school_id="12AB", programme_id="gd-2027", codes=codes))
        await publish(js, topology, group("g-1", "12AB", ["r-a", "r-b"]))
        await publish(js, topology, erased("r-a"))
        await eventually(lambda: _consumed(js, topology, "REGISTRATION"))
        await publish(js, topology, placement("p-1", "g-1", "12AB", ["r-a", "r-b"]))

        async def placed():
            return listed(await overview(client))

        assert await eventually(placed) == ["bo"]
        # a late, older copy of the group or of its codes does not bring her back either
        await publish(js, topology, group("g-1", "12AB", ["r-a", "r-b"]))
        await publish(js, topology, PupilsNamed(group_id="g-1", school_id="12AB", programme_id="gd-2027", codes=codes))
        await publish(js, topology, placement("p-2", "g-1", "12AB", ["r-a"], activity_id="act-2"))
        await eventually(lambda: _consumed(js, topology))
        assert listed(await overview(client)) == ["bo"]


async def _consumed(js, topology, *streams: str) -> bool:
    for stream in streams or ("REGISTRATION", "MATCHING"):
        name = topology.stream(stream)
        for info in await js.consumers_info(name):
            if info.name.startswith("surveys-") and (info.num_pending or info.num_ack_pending):
                return False
        if not [i for i in await js.consumers_info(name) if i.name.startswith("surveys-")]:
            return False
    return True
