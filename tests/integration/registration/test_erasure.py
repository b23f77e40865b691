"""Erasure in registration: events name pupils by pseudonyms, codes travel only in PupilsNamed,
and erasing a pupil purges her code from the stream, the dead letters and the stored answers."""

from __future__ import annotations

import contextlib
import json

from sqlalchemy import select

from services.registration import erasure
from services.registration.app import build_app
from services.registration.store import erasures, idempotency
from shared.contracts import names_subject
from tests.conftest import running
from tests.helpers import eventually
from tests.integration.registration.conftest import Api, stream_events


@contextlib.asynccontextmanager
async def registration(settings, js):
    app = build_app(settings)
    async with running(app) as client:
        yield Api(client), app.state.runtime


def of_type(events: list[dict], suffix: str) -> list[dict]:
    return [e for e in events if e["type"].endswith(suffix)]


async def test_events_name_pupils_by_pseudonyms_kept_across_edits_and_only_pupils_named_carries_codes(settings, js, topology):
    async with registration(settings, js) as (api, _):
        programme, school = await api.programme(), await api.school()
        group = await api.group(school, programme["id"], pupils=[{"pupil_ref": "zeeuw-01"}, {"pupil_ref": "zeeuw-02"}])
        edited = await api.patch(
            f"/api/groups/{group['id']}",
            headers=school[1],
            json={"pupil_count": 12, "pupils": [{"pupil_ref": "zeeuw-01", "age": 12}, {"pupil_ref": "zeeuw-03"}]},
        )
        assert edited.status_code == 200, edited.text

        async def settled():
            events = await stream_events(js, topology)
            return events if len(of_type(events, "group.updated.v1")) == 1 else None

        events = await eventually(settled)
        registered, updated = of_type(events, "group.registered.v1")[0]["data"], of_type(events, "group.updated.v1")[0]["data"]
        first, second = (p["pupil_ref"] for p in registered["pupils"])
        kept, third = (p["pupil_ref"] for p in updated["pupils"])
        assert kept == first and len({first, second, third}) == 3  # zeeuw-01 keeps her pseudonym
        named = of_type(events, "pupils.named.v1")
        assert [e["_subject"] for e in named] == [topology.subject(names_subject(programme["id"], group["id"]))] * 2
        assert named[-1]["data"]["codes"] == {first: "zeeuw-01", third: "zeeuw-03"}
        # zeeuw-02 left the list: she is erased like any erased pupil
        assert [e["data"]["pupil_ref"] for e in of_type(events, "pupil.erased.v1")] == [second]
        others = [e for e in events if not e["type"].endswith("pupils.named.v1")]
        assert "zeeuw" not in json.dumps(others)


async def test_erasing_a_pupil_purges_her_code_from_the_stream_and_from_dead_letters(settings, js, topology):
    async with registration(settings, js) as (api, runtime):
        programme, school = await api.programme(), await api.school()
        group = await api.group(school, programme["id"], pupils=[{"pupil_ref": "zld-anna"}, {"pupil_ref": "zld-bo"}])
        subject = names_subject(programme["id"], group["id"])
        named = await eventually(lambda: _named(js, topology))
        # a consumer had dead-lettered the event that names her
        dead = topology.subject(f"deadletter.surveys.surveys-invitations-registration.{subject}")
        await js.publish(dead, json.dumps(named[0]).encode(), stream=topology.stream("DEAD_LETTER"))

        assert (await api.delete(f"/api/groups/{group['id']}/pupils/zld-anna", headers=school[1])).status_code == 200

        async def purged():
            events = await stream_events(js, topology)
            codes = [e["data"]["codes"] for e in of_type(events, "pupils.named.v1")]
            left = await _dead_letters(js, topology)
            return codes if "zld-anna" not in json.dumps(events) and codes and left == [] else None

        codes = await eventually(purged, timeout=20)
        assert [sorted(c.values()) for c in codes] == [["zld-bo"]]  # her group's current codes, published again
        async with runtime.sessions() as session:
            (row,) = (await session.execute(select(erasures))).all()
        assert row.purged_at is not None and row.group_id == group["id"]


async def test_the_purge_waits_until_the_pupils_named_without_her_is_published(settings, js, topology):
    async with registration(settings, js) as (api, runtime):
        programme, school = await api.programme(), await api.school()
        group = await api.group(school, programme["id"], pupils=[{"pupil_ref": "w-1"}, {"pupil_ref": "w-2"}])
        await eventually(lambda: _named(js, topology))
        await runtime.relay.stop()  # NATS keeps working, but nothing leaves the outbox any more
        assert (await api.delete(f"/api/groups/{group['id']}/pupils/w-1", headers=school[1])).status_code == 200
        assert await erasure.purge_erased(runtime) == 0
        assert len(await _named(js, topology)) == 1  # the only stored names event still names her: kept until the new one is out

        async def done():
            await runtime.relay.drain()  # the names event without her goes out; then the purge (and the codes, once more)
            await erasure.purge_erased(runtime)
            named = await _named(js, topology)
            return named if named and "w-1" not in json.dumps(named) else None

        assert [sorted(e["data"]["codes"].values()) for e in await eventually(done, timeout=20)] == [["w-2"]]


async def test_stored_idempotent_answers_forget_an_erased_pupil_and_still_replay(settings, js, topology):
    async with registration(settings, js) as (api, runtime):
        programme, school = await api.programme(), await api.school()
        body = {"programme_id": programme["id"], "pupil_count": 12, "pupils": [{"pupil_ref": "idem-kim"}, {"pupil_ref": "idem-lou"}]}
        headers = school[1] | {"Idempotency-Key": "group-1"}
        first = await api.post(f"/api/schools/{school[0]}/groups", json=body, headers=headers)
        assert first.status_code == 201
        group_id = first.json()["id"]
        assert (await api.delete(f"/api/groups/{group_id}/pupils/idem-kim", headers=school[1])).status_code == 200
        async with runtime.sessions() as session:
            stored = (await session.execute(select(idempotency.c.body))).scalars().all()
        assert stored and all("idem-kim" not in text for text in stored)
        replay = await api.post(f"/api/schools/{school[0]}/groups", json=body, headers=headers)
        assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json()["id"] == group_id and [p["pupil_ref"] for p in replay.json()["pupils"]] == ["idem-lou"]


async def _named(js, topology) -> list[dict]:
    return of_type(await stream_events(js, topology), "pupils.named.v1")


async def _dead_letters(js, topology) -> list[bytes]:
    stream = topology.stream("DEAD_LETTER")
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
        with contextlib.suppress(Exception):
            found.append((await js.get_msg(stream, seq)).data)
    return found
