from datetime import UTC, datetime, timedelta

from tests.helpers import eventually
from tests.integration.registration.conftest import ADMIN, problem, rules, stream_events


async def test_an_admin_creates_opens_and_closes_a_programme_and_each_step_is_announced(api, js, topology):
    programme = await api.programme(open_=False, targets={"pupils": 12000, "schools": 400, "companies": 450})
    assert programme["status"] == "draft" and programme["min_group_size"] == 10 and programme["allocation_mode"] == "groups"
    opened = await api.post(f"/api/programmes/{programme['id']}/open", headers=ADMIN)
    assert opened.json()["status"] == "open"
    closed = await api.post(f"/api/programmes/{programme['id']}/close", headers=ADMIN)
    assert closed.json()["status"] == "closed"

    async def announced():
        events = await stream_events(js, topology)
        return [e["type"] for e in events] if len(events) == 2 else None

    types = await eventually(announced)
    assert types == ["nl.vhto.girlsday.registration.programme.opened.v1", "nl.vhto.girlsday.registration.programme.closed.v1"]
    events = await stream_events(js, topology)
    assert events[0]["data"]["target_pupils"] == 12000 and events[0]["data"]["min_group_size"] == 10


async def test_an_energy_transition_programme_defaults_to_individual_pupils(api):
    programme = await api.programme(kind="energy_transition")
    assert programme["allocation_mode"] == "individual" and programme["min_group_size"] == 1


async def test_a_programme_that_closes_before_it_opens_is_refused_naming_the_rule(api):
    now = datetime.now(UTC)
    r = await api.post(
        "/api/programmes",
        headers=ADMIN,
        json={
            "kind": "girls_day",
            "name": "X",
            "event_date": (now + timedelta(days=40)).date().isoformat(),
            "opens_at": (now + timedelta(days=20)).isoformat(),
            "closes_at": (now + timedelta(days=10)).isoformat(),
        },
    )
    assert r.status_code == 422 and rules(r) == {("closes_at", "window_order")}


async def test_a_closed_programme_cannot_be_opened_again(api):
    programme = await api.programme()
    await api.post(f"/api/programmes/{programme['id']}/close", headers=ADMIN)
    r = await api.post(f"/api/programmes/{programme['id']}/open", headers=ADMIN)
    assert r.status_code == 409 and problem(r) == "status_transition"


async def test_programmes_are_listed_publicly(api):
    programme = await api.programme()
    listed = (await api.get("/api/programmes")).json()
    assert [p["id"] for p in listed] == [programme["id"]]
    assert (await api.get(f"/api/programmes/{programme['id']}")).json()["name"] == programme["name"]
    assert (await api.get("/api/programmes/nope")).status_code == 404
