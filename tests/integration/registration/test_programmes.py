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


def _programme_at(closes_at: str) -> dict:
    return {
        "kind": "girls_day",
        "name": "Girls' Day 2031",
        "event_date": "2031-03-20",
        "opens_at": "2031-01-10T09:00:00",
        "closes_at": closes_at,
    }


async def test_a_deadline_with_an_offset_is_enforced_at_that_moment_not_an_hour_later(api, monkeypatch):
    from services.registration import service

    r = await api.post("/api/programmes", headers=ADMIN, json=_programme_at("2031-03-12T23:59:00+01:00"))
    assert r.status_code == 201, r.text
    programme = r.json()
    assert (programme["opens_at"], programme["closes_at"]) == ("2031-01-10T09:00:00+01:00", "2031-03-12T23:59:00+01:00")
    assert (await api.get(f"/api/programmes/{programme['id']}")).json()["closes_at"] == "2031-03-12T23:59:00+01:00"
    await api.post(f"/api/programmes/{programme['id']}/open", headers=ADMIN)
    school = await api.school()
    body = {"programme_id": programme["id"], "pupil_count": 12}
    monkeypatch.setattr(service, "now", lambda: datetime(2031, 3, 12, 22, 58, tzinfo=UTC))  # 23:58 in Amsterdam
    assert (await api.post(f"/api/schools/{school[0]}/groups", headers=school[1], json=body)).status_code == 201
    monkeypatch.setattr(service, "now", lambda: datetime(2031, 3, 12, 23, 0, tzinfo=UTC))  # midnight in Amsterdam
    late = await api.post(f"/api/schools/{school[0]}/groups", headers=school[1], json=body)
    assert late.status_code == 409 and problem(late) == "deadline_passed"
    assert late.json()["deadline"] == "2031-03-12T23:59:00+01:00"


async def test_a_time_without_an_offset_is_dutch_time_in_winter_and_in_summer(api):
    winter = await api.post("/api/programmes", headers=ADMIN, json=_programme_at("2031-03-12T17:00:00"))
    assert winter.json()["closes_at"] == "2031-03-12T17:00:00+01:00"
    summer = await api.post("/api/programmes", headers=ADMIN, json={**_programme_at("2031-06-12T17:00:00"), "event_date": "2031-06-20"})
    assert summer.json()["closes_at"] == "2031-06-12T17:00:00+02:00"
    utc = await api.post("/api/programmes", headers=ADMIN, json=_programme_at("2031-03-12T16:00:00Z"))
    assert utc.json()["closes_at"] == "2031-03-12T17:00:00+01:00"
