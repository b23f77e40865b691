"""Matching on a real NATS: registrations in -> run -> publish -> placements out; a cancellation ->
only the changed placements out; bad events dead-lettered; concurrent runs refused."""

import asyncio
import json
from datetime import UTC, date, datetime

from shared import contracts as c
from shared.envelope import make_event
from tests.conftest import ADMIN
from tests.helpers import eventually

P = "gd-2027"
T = datetime(2027, 1, 1, tzinfo=UTC)


def registrations() -> list[c.Contract]:
    return [
        c.ProgrammeOpened(programme_id=P, kind="girls_day", name="Girls' Day 2027", event_date=date(2027, 4, 8),
                          registration_opens=T, registration_closes=T, target_pupils=100, target_schools=3,
                          target_companies=2, allocation_mode="groups", min_group_size=10, min_age=10, max_age=15),
        c.SchoolRegistered(school_id="s-utrecht", brin="12AB", name="Het Baken", level="vo", postcode="3511 AB"),
        c.SchoolRegistered(school_id="s-amersfoort", brin="34CD", name="De Vallei", level="vo", postcode="3811"),
        c.CompanyRegistered(company_id="k1", kvk="12345678", name="Lab BV", postcode="3512"),
        c.ActivityRegistered(activity_id="lab", company_id="k1", programme_id=P, title="Lab", sector="science",
                             capacity=30, levels=["vo"], postcode="3512"),
        c.ActivityRegistered(activity_id="plant", company_id="k1", programme_id=P, title="Plant", sector="energy",
                             capacity=50, levels=["vo"], postcode="3812"),
        c.GroupRegistered(group_id="g1", school_id="s-utrecht", programme_id=P, pupil_count=20, ages=[12, 13],
                          preferred_activities=["lab"], max_travel_km=60),
        c.GroupRegistered(group_id="g2", school_id="s-amersfoort", programme_id=P, pupil_count=25, ages=[12],
                          preferred_activities=["plant"], max_travel_km=60),
    ]  # fmt: skip


async def send(js, topology, data: c.Contract) -> None:
    event = make_event(data, source="/test")
    await js.publish(topology.subject(data.nats_subject()), event.to_bytes(),
                     stream=topology.stream_for_subject(data.nats_subject()))  # fmt: skip


async def matching_events(js, topology) -> list[tuple[str, dict]]:
    stream = topology.stream_of_service("matching")
    info = await js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
        msg = await js.get_msg(stream, seq)
        body = json.loads(msg.data)
        out.append((body["type"].split(".")[-2], body["data"]))
    return out


async def test_registrations_in_run_publish_placements_out_then_a_cancellation_emits_only_changes(start_service, js, topology):
    for data in registrations():
        await send(js, topology, data)
    async with start_service("matching") as client:

        async def ready():
            r = await client.post(f"/api/programmes/{P}/runs", json={"seed": 1}, headers=ADMIN)
            return r.json() if r.status_code == 201 and r.json()["quality"]["placed_pupils"] == 45 else None

        run = await eventually(ready, timeout=30)
        assert run["status"] == "proposal" and run["quality"]["placed_ratio"] == 1.0 and run["inputs_digest"]
        assert await matching_events(js, topology) == []  # a proposal publishes nothing

        published = await client.post(f"/api/runs/{run['run_id']}/publish", headers=ADMIN)
        assert published.status_code == 200, published.text

        async def placed():
            events = await matching_events(js, topology)
            return events if "completed" in [t for t, _ in events] else None

        events = await eventually(placed)
        assigned = {d["group_id"]: d["activity_id"] for t, d in events if t == "assigned"}
        assert assigned == {"g1": "lab", "g2": "plant"}
        completed = [d for t, d in events if t == "completed"][0]
        assert completed["placed_pupils"] == 45 and completed["run_id"] == run["run_id"]

        csv = await client.get(f"/api/runs/{run['run_id']}/placements.csv", headers=ADMIN)
        assert csv.text.splitlines()[0].startswith("group_id,school_id,activity_id") and len(csv.text.splitlines()) == 3
        why = (await client.get(f"/api/programmes/{P}/explanations/g1", headers=ADMIN)).json()
        assert why["placed"][0]["activity_id"] == "lab" and "1e keuze" in why["why"] and "Lab (Lab BV)" in why["why"]
        english = (await client.get(f"/api/programmes/{P}/explanations/g1?lang=en", headers=ADMIN)).json()
        assert "choice 1" in english["why"]

        before = len(events)
        await send(js, topology, c.ActivityCancelled(activity_id="lab", company_id="k1", programme_id=P, revision=2))

        async def changed():
            new = (await matching_events(js, topology))[before:]
            return new if len(new) >= 2 else None

        new = await eventually(changed)
        await asyncio.sleep(0.5)
        new = (await matching_events(js, topology))[before:]
        assert [(t, d["group_id"]) for t, d in new] == [("cancelled", "g1"), ("assigned", "g1")]
        assert new[1][1]["activity_id"] == "plant"  # 20 + 25 pupils fit its 50 places
        # The change notice can tell the school what changed: which placement this one replaces,
        # the activity before, and whether the time slot changed (neither activity has a time here).
        cancelled, moved = new[0][1], new[1][1]
        assert cancelled["replaced_by"] == [moved["placement_id"]] and moved["replaces"] == [cancelled["placement_id"]]
        assert moved["previous_activity_id"] == "lab" and moved["slot_changed"] is False and moved["decided_by"] == "engine"
        current = (await client.get(f"/api/programmes/{P}/placements", headers=ADMIN)).json()
        assert {(p["group_id"], p["activity_id"]) for p in current} == {("g1", "plant"), ("g2", "plant")}
        metrics = (await client.get("/metrics")).text
        assert "girlsday_matching_run_duration_seconds" in metrics and "girlsday_matching_placed_ratio" in metrics


async def test_events_about_unknown_programmes_or_groups_are_dead_lettered_with_the_reason(start_service, js, topology):
    await send(js, topology, c.GroupRegistered(group_id="g9", school_id="s", programme_id="nope", pupil_count=12))
    await send(js, topology, c.GroupWithdrawn(group_id="ghost", school_id="s", programme_id="nope", revision=2))
    async with start_service("matching"):

        async def dead():
            return (await js.stream_info(topology.stream("DEAD_LETTER"))).state.messages == 2

        await eventually(dead, timeout=20)
    stream = topology.stream("DEAD_LETTER")
    reasons = [(await js.get_msg(stream, seq)).headers["Girlsday-Reason"] for seq in (1, 2)]
    assert any("unknown programme nope" in r for r in reasons) and any("unknown group ghost" in r for r in reasons)


async def test_two_run_requests_for_one_programme_at_once_one_runs_the_other_gets_409(start_service, js, topology, monkeypatch):
    from services.matching import service

    slow = service.compute

    def slower(*args, **kwargs):
        import time

        time.sleep(0.5)
        return slow(*args, **kwargs)

    monkeypatch.setattr(service, "compute", slower)
    for data in registrations():
        await send(js, topology, data)
    async with start_service("matching") as client:

        async def ready():
            r = await client.get(f"/api/programmes/{P}/explanations/g2", headers=ADMIN)
            return r.status_code == 200

        await eventually(ready, timeout=30)
        first, second = await asyncio.gather(
            client.post(f"/api/programmes/{P}/runs", json={}, headers=ADMIN),
            client.post(f"/api/programmes/{P}/runs", json={}, headers=ADMIN),
        )
        assert sorted([first.status_code, second.status_code]) == [201, 409]
        again = await client.post(f"/api/programmes/{P}/runs", json={}, headers=ADMIN)
        assert again.status_code == 201  # the lock is released after a run
        assert (await client.post(f"/api/programmes/{P}/runs", json={})).status_code == 401


async def test_closing_registration_starts_a_run_when_configured(settings, js, topology):
    from services.matching.app import build_app
    from services.matching.config import MatchingSettings
    from tests.conftest import running

    for data in registrations():
        await send(js, topology, data)
    await send(js, topology, c.ProgrammeClosed(programme_id=P, closed_at=T))
    async with running(build_app(settings, MatchingSettings(auto_run=True))) as client:

        async def proposal():
            runs = (await client.get(f"/api/programmes/{P}/runs", headers=ADMIN)).json()
            return runs if runs else None

        runs = await eventually(proposal, timeout=30)
        assert runs[0]["status"] == "proposal"
