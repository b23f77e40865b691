"""Edits: PUT replaces a whole group or activity, PATCH changes only what it names; both keep every rule."""

from datetime import timedelta

from services.registration import service
from tests.helpers import eventually
from tests.integration.registration.conftest import problem, rules, stream_events

FULL_GROUP = {
    "pupil_count": 14,
    "grades": ["klas 2b"],
    "teacher_name": "Mw. Bakker",
    "preferred_sectors": ["ict", "energy"],
    "max_travel_km": 30,
    "split": {"may_split": True, "max_parts": 2, "min_part_size": 7},
}


async def test_a_put_that_leaves_fields_out_is_refused_and_clears_nothing(api):
    programme = await api.programme()
    school = await api.school()
    group = await api.group(school, programme["id"], **FULL_GROUP)
    r = await api.put(f"/api/groups/{group['id']}", headers=school[1], json={"pupil_count": 27})
    assert r.status_code == 422
    assert {field for field, rule in rules(r) if rule == "missing"} >= {
        "grades",
        "teacher_name",
        "preferred_sectors",
        "max_travel_km",
        "split",
    }
    kept = (await api.get(f"/api/groups/{group['id']}", headers=school[1])).json()
    assert (kept["pupil_count"], kept["grades"], kept["teacher_name"], kept["revision"]) == (14, ["klas 2b"], "Mw. Bakker", 1)


async def test_a_patch_changes_only_the_fields_it_names_and_announces_the_whole_group(api, js, topology):
    programme = await api.programme()
    school = await api.school()
    group = await api.group(school, programme["id"], **FULL_GROUP, pupils=[{"pupil_ref": "2b-01", "age": 13, "parental_consent": True}])
    r = await api.patch(f"/api/groups/{group['id']}", headers=school[1], json={"pupil_count": 27})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["pupil_count"] == 27 and changed["revision"] == 2
    for field in ("grades", "teacher_name", "preferred_sectors", "max_travel_km", "split", "pupils"):
        assert changed[field] == group[field], field

    async def updated():
        events = [e for e in await stream_events(js, topology) if e["type"].endswith("group.updated.v1")]
        return events[0]["data"] if events else None

    data = await eventually(updated)
    assert (data["pupil_count"], data["preferred_sectors"], data["max_travel_km"]) == (27, ["ict", "energy"], 30)
    assert data["split"] == {"may_split": True, "max_parts": 2, "min_part_size": 7}
    registered = next(e["data"] for e in await stream_events(js, topology) if e["type"].endswith("group.registered.v1"))
    assert [p["pupil_ref"] for p in data["pupils"]] == [p["pupil_ref"] for p in registered["pupils"]]  # her pseudonym, kept


async def test_a_patch_merges_the_split_rules_and_null_clears_the_travel_limit(api):
    programme = await api.programme()
    school = await api.school()
    group = await api.group(school, programme["id"], **FULL_GROUP)
    r = await api.patch(f"/api/groups/{group['id']}", headers=school[1], json={"split": {"max_parts": 3}, "max_travel_km": None})
    assert r.status_code == 200, r.text
    assert r.json()["split"] == {"may_split": True, "max_parts": 3, "min_part_size": 7}
    assert r.json()["max_travel_km"] is None and r.json()["teacher_name"] == "Mw. Bakker"
    r = await api.patch(f"/api/groups/{group['id']}", headers=school[1], json={"split": {"may_split": False}})
    assert r.json()["split"] == {"may_split": False, "max_parts": 1, "min_part_size": None}


async def test_a_patch_with_unknown_or_null_required_fields_gets_a_422_naming_each(api):
    programme = await api.programme()
    school = await api.school()
    group = await api.group(school, programme["id"], **FULL_GROUP)
    r = await api.patch(
        f"/api/groups/{group['id']}", headers=school[1], json={"pupil_cuont": 27, "split": {"parts": 2}, "pupil_count": None}
    )
    assert r.status_code == 422
    assert rules(r) == {("pupil_cuont", "extra_forbidden"), ("split.parts", "extra_forbidden"), ("pupil_count", "int_type")}
    assert (await api.get(f"/api/groups/{group['id']}", headers=school[1])).json()["revision"] == 1


async def test_a_patched_group_must_still_meet_the_programme_rules(api):
    programme = await api.programme()
    school = await api.school()
    group = await api.group(school, programme["id"], **FULL_GROUP)
    r = await api.patch(f"/api/groups/{group['id']}", headers=school[1], json={"pupil_count": 9})
    assert r.status_code == 422 and rules(r) == {("pupil_count", "group_below_minimum"), ("split.min_part_size", "split_impossible")}
    r = await api.patch(f"/api/groups/{group['id']}", headers=school[1], json={"pupils": [{"pupil_ref": "x1", "age": 30}]})
    assert r.status_code == 422 and rules(r) == {("pupils.0.age", "less_than_equal")}


async def test_an_activity_patch_keeps_what_it_does_not_name(api):
    programme = await api.programme()
    company = await api.company()
    activity = await api.activity(
        company, programme["id"], description="Met robots", wheelchair_accessible=True, accessibility_notes="lift aanwezig"
    )
    r = await api.patch(f"/api/activities/{activity['id']}", headers=company[1], json={"title": "Robots 2.0", "capacity": 30})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (edited["title"], edited["capacity"], edited["revision"]) == ("Robots 2.0", 30, 2)
    assert (edited["description"], edited["wheelchair_accessible"], edited["accessibility_notes"]) == ("Met robots", True, "lift aanwezig")
    r = await api.put(f"/api/activities/{activity['id']}", headers=company[1], json={"title": "Alleen een titel"})
    assert r.status_code == 422 and ("description", "missing") in rules(r)
    r = await api.patch(f"/api/activities/{activity['id']}", headers=company[1], json={"sector": "astrology", "seats": 3})
    assert r.status_code == 422 and rules(r) == {("sector", "sector_unknown"), ("seats", "extra_forbidden")}


async def test_after_the_deadline_an_edit_gets_a_409_with_the_deadline_in_dutch_time_but_capacity_may_still_change(api, monkeypatch):
    programme = await api.programme(deadline_in=timedelta(days=2))
    school, company = await api.school(), await api.company()
    group = await api.group(school, programme["id"], **FULL_GROUP)
    activity = await api.activity(company, programme["id"])
    later = service.now() + timedelta(days=3)
    monkeypatch.setattr(service, "now", lambda: later)
    r = await api.patch(f"/api/groups/{group['id']}", headers=school[1], json={"pupil_count": 15})
    assert r.status_code == 409
    body = r.json()
    assert problem(r) == "deadline_passed" and body["deadline"] == programme["closes_at"]
    assert body["deadline"].endswith(("+01:00", "+02:00")) and "Dutch time" in body["detail"]
    assert (await api.patch(f"/api/activities/{activity['id']}", headers=company[1], json={"title": "Later"})).status_code == 409
    r = await api.patch(f"/api/activities/{activity['id']}", headers=company[1], json={"capacity": 12})
    assert r.status_code == 200 and r.json()["capacity"] == 12
