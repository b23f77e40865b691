from tests.helpers import eventually
from tests.integration.registration.conftest import activity_body, activity_replacement, problem, rules, stream_events


async def test_a_company_registers_edits_changes_capacity_and_cancels_an_activity_each_announced_once(api, js, topology):
    programme = await api.programme()
    company = await api.company()
    activity = await api.activity(company, programme["id"], wheelchair_accessible=True, accessibility_notes="lift aanwezig")
    assert activity["status"] == "registered" and activity["postcode"] == "5612 AB"
    body = activity_replacement(programme["id"], title="Robots 2.0", wheelchair_accessible=True)
    edited = await api.put(f"/api/activities/{activity['id']}", headers=company[1], json=body)
    assert edited.status_code == 200 and edited.json()["title"] == "Robots 2.0"
    capacity = await api.put(f"/api/activities/{activity['id']}/capacity", headers=company[1], json={"capacity": 40})
    assert capacity.json()["capacity"] == 40
    cancelled = await api.post(f"/api/activities/{activity['id']}/cancel", headers=company[1])
    assert cancelled.json()["status"] == "cancelled"
    listed = await api.get(f"/api/programmes/{programme['id']}/activities")
    assert listed.json() == []

    async def activity_events():
        events = [e for e in await stream_events(js, topology) if ".activity." in e["type"]]
        return events if len(events) == 4 else None

    events = await eventually(activity_events)
    assert [e["type"].split(".")[-2] for e in events] == ["registered", "updated", "updated", "cancelled"]
    assert events[2]["data"]["capacity"] == 40
    assert events[0]["data"]["slot_start"].endswith(("+01:00", "+02:00")) and events[0]["data"]["province"] == "Noord-Brabant"


async def test_an_activity_needs_a_capacity_above_zero(api):
    programme = await api.programme()
    company = await api.company()
    r = await api.post(f"/api/companies/{company[0]}/activities", headers=company[1], json=activity_body(programme["id"], capacity=0))
    assert r.status_code == 422 and rules(r) == {("capacity", "greater_than")}
    activity = await api.activity(company, programme["id"])
    r = await api.put(f"/api/activities/{activity['id']}/capacity", headers=company[1], json={"capacity": -3})
    assert r.status_code == 422 and rules(r) == {("capacity", "greater_than")}


async def test_an_activity_with_a_bad_postcode_sector_and_slot_names_each_problem(api):
    programme = await api.programme()
    company = await api.company()
    r = await api.post(
        f"/api/companies/{company[0]}/activities",
        headers=company[1],
        json=activity_body(programme["id"], postcode="12345", sector="astrology", starts_at="13:00", ends_at="12:00"),
    )
    assert rules(r) == {("postcode", "postcode_format"), ("sector", "sector_unknown"), ("ends_at", "slot_order")}


async def test_a_cancelled_activity_cannot_be_edited(api):
    programme = await api.programme()
    company = await api.company()
    activity = await api.activity(company, programme["id"])
    await api.post(f"/api/activities/{activity['id']}/cancel", headers=company[1])
    r = await api.put(f"/api/activities/{activity['id']}/capacity", headers=company[1], json={"capacity": 5})
    assert r.status_code == 409 and problem(r) == "activity_cancelled"


async def test_the_public_listing_shows_each_activity_as_it_is_now_oldest_first(api):
    programme, other = await api.programme(), await api.programme()
    company = await api.company()
    first = await api.activity(company, programme["id"], title="Eerste")
    second = await api.activity(company, programme["id"], title="Tweede")
    await api.activity(company, other["id"], title="Elders")

    async def listed():
        r = await api.get(f"/api/programmes/{programme['id']}/activities")
        assert r.status_code == 200
        for shown in r.json():  # each exactly as its own page shows it
            assert shown == (await api.get(f"/api/activities/{shown['id']}", headers=company[1])).json()
        return [(a["title"], a["capacity"], a["revision"]) for a in r.json()]

    assert await listed() == [("Eerste", 24, 1), ("Tweede", 24, 1)]
    assert await listed() == [("Eerste", 24, 1), ("Tweede", 24, 1)]  # asked again: the same answer
    body = activity_replacement(programme["id"], title="Eerste, herzien")
    assert (await api.put(f"/api/activities/{first['id']}", headers=company[1], json=body)).status_code == 200
    assert (await api.put(f"/api/activities/{second['id']}/capacity", headers=company[1], json={"capacity": 7})).status_code == 200
    assert await listed() == [("Eerste, herzien", 24, 2), ("Tweede", 7, 2)]
    await api.post(f"/api/activities/{first['id']}/cancel", headers=company[1])
    await api.activity(company, programme["id"], title="Derde")
    assert await listed() == [("Tweede", 7, 2), ("Derde", 24, 1)]


async def test_the_listing_of_an_unknown_programme_is_not_found(api):
    r = await api.get("/api/programmes/no-such-programme/activities")
    assert r.status_code == 404 and problem(r) == "not_found"
