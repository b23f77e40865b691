from datetime import timedelta

from tests.helpers import eventually
from tests.integration.registration.conftest import ADMIN, group_body, group_replacement, problem, rules, stream_events


async def test_a_school_registers_edits_and_withdraws_a_group_and_each_change_is_announced_once(api, js, topology):
    programme = await api.programme()
    school = await api.school()
    group = await api.group(
        school,
        programme["id"],
        pupils=[{"pupil_ref": "2b-01", "age": 13, "parental_consent": True}],
        split={"may_split": True, "max_parts": 2, "min_part_size": 6},
    )
    assert group["status"] == "registered" and group["revision"] == 1
    edited = await api.put(
        f"/api/groups/{group['id']}",
        headers=school[1],
        json=group_replacement(programme["id"], pupil_count=16),
    )
    assert edited.status_code == 200 and edited.json()["pupil_count"] == 16 and edited.json()["revision"] == 2
    withdrawn = await api.post(f"/api/groups/{group['id']}/withdraw", headers=school[1])
    assert withdrawn.json()["status"] == "withdrawn"
    again = await api.patch(f"/api/groups/{group['id']}", headers=school[1], json={"pupil_count": 12})
    assert again.status_code == 409 and problem(again) == "group_withdrawn"

    async def group_events():
        events = [e for e in await stream_events(js, topology) if ".group." in e["type"]]
        return events if len(events) == 3 else None

    events = await eventually(group_events)
    assert [e["type"].split(".")[-2] for e in events] == ["registered", "updated", "withdrawn"]
    assert [e["data"]["revision"] for e in events] == [1, 2, 3]
    registered = events[0]["data"]
    (pupil,) = registered["pupils"]
    assert pupil == {"pupil_ref": pupil["pupil_ref"], "age": 13, "parental_consent": True, "ranking": []}
    assert len(pupil["pupil_ref"]) == 22  # a pseudonym: her code travels only in PupilsNamed
    assert registered["split"] == {"may_split": True, "max_parts": 2, "min_part_size": 6}
    assert "Bakker" not in str(events) and "2b-01" not in str(events)  # the teacher's name stays in registration
    assert len({e["id"] for e in events}) == 3


async def test_a_group_below_the_programme_minimum_is_refused(api):
    programme = await api.programme()
    school = await api.school()
    r = await api.post(f"/api/schools/{school[0]}/groups", headers=school[1], json=group_body(programme["id"], pupil_count=9))
    assert r.status_code == 422 and rules(r) == {("pupil_count", "group_below_minimum")}
    assert "10" in r.json()["errors"][0]["message"] and "10" in r.json()["detail"]


async def test_preferences_must_name_activities_of_the_same_programme(api):
    programme, other = await api.programme(), await api.programme()
    company = await api.company()
    here = await api.activity(company, programme["id"])
    elsewhere = await api.activity(company, other["id"])
    school = await api.school()
    r = await api.post(
        f"/api/schools/{school[0]}/groups",
        headers=school[1],
        json=group_body(programme["id"], preferred_activities=[here["id"], elsewhere["id"], "no-such-activity"]),
    )
    assert r.status_code == 422
    assert rules(r) == {("preferred_activities.1", "activity_not_in_programme"), ("preferred_activities.2", "activity_not_in_programme")}
    ok = await api.post(
        f"/api/schools/{school[0]}/groups", headers=school[1], json=group_body(programme["id"], preferred_activities=[here["id"]])
    )
    assert ok.status_code == 201


async def test_a_group_after_the_deadline_gets_a_409_that_gives_the_deadline(api):
    programme = await api.programme(deadline_in=-timedelta(hours=1))
    school = await api.school()
    r = await api.post(f"/api/schools/{school[0]}/groups", headers=school[1], json=group_body(programme["id"]))
    assert r.status_code == 409
    assert problem(r) == "deadline_passed" and r.json()["deadline"][:16] == programme["closes_at"][:16]


async def test_a_group_for_a_programme_that_is_not_open_is_refused(api):
    draft = await api.programme(open_=False)
    school = await api.school()
    r = await api.post(f"/api/schools/{school[0]}/groups", headers=school[1], json=group_body(draft["id"]))
    assert r.status_code == 409 and problem(r) == "not_open_yet"
    r = await api.post(f"/api/schools/{school[0]}/groups", headers=school[1], json=group_body("no-such-programme"))
    assert r.status_code == 422 and rules(r) == {("programme_id", "programme_unknown")}


async def test_split_rules_and_pupil_codes_are_checked(api):
    programme = await api.programme()
    school = await api.school()
    r = await api.post(
        f"/api/schools/{school[0]}/groups",
        headers=school[1],
        json=group_body(
            programme["id"],
            split={"may_split": True, "max_parts": 2, "min_part_size": 7},
            pupils=[{"pupil_ref": "Anna de Vries"}, {"pupil_ref": "p2", "age": 17}],
        ),
    )
    assert rules(r) == {
        ("split.min_part_size", "split_impossible"),
        ("pupils.0.pupil_ref", "pupil_ref_format"),
        ("pupils.1.age", "age_out_of_range"),
    }


async def test_in_individual_mode_pupils_rank_activities_through_their_school(api, js, topology):
    programme = await api.programme(kind="energy_transition")
    company = await api.company()
    first = await api.activity(company, programme["id"], min_age=12, max_age=18)
    second = await api.activity(company, programme["id"], min_age=12, max_age=18)
    school = await api.school()
    group = await api.group(
        school, programme["id"], pupil_count=2, ages=[14], pupils=[{"pupil_ref": "e1", "age": 14}, {"pupil_ref": "e2", "age": 15}]
    )
    r = await api.put(f"/api/groups/{group['id']}/rankings", headers=school[1], json={"rankings": {"e1": [second["id"], first["id"]]}})
    assert r.status_code == 200, r.text
    assert [p["ranking"] for p in r.json()["pupils"]] == [[second["id"], first["id"]], []]
    bad = await api.put(f"/api/groups/{group['id']}/rankings", headers=school[1], json={"rankings": {"e2": ["nope"], "zz": []}})
    assert bad.status_code == 422 and rules(bad) == {("rankings.zz", "pupil_ref_unknown")}
    bad = await api.put(f"/api/groups/{group['id']}/rankings", headers=school[1], json={"rankings": {"e2": ["nope"]}})
    assert rules(bad) == {("rankings.e2.0", "activity_not_in_programme")}

    async def ranked():
        events = [e for e in await stream_events(js, topology) if e["type"].endswith("group.updated.v1")]
        return events[-1]["data"]["pupils"][0]["ranking"] if events else None

    assert await eventually(ranked) == [second["id"], first["id"]]


async def test_rankings_are_refused_in_a_group_mode_programme(api):
    programme = await api.programme()
    school = await api.school()
    r = await api.post(
        f"/api/schools/{school[0]}/groups",
        headers=school[1],
        json=group_body(programme["id"], pupils=[{"pupil_ref": "p1", "ranking": ["x"]}]),
    )
    assert ("pupils.0.ranking", "ranking_needs_individual_mode") in rules(r)


async def test_erasing_a_pupil_removes_her_entry_and_announces_the_erasure(api, js, topology):
    programme = await api.programme()
    school = await api.school()
    group = await api.group(school, programme["id"], pupils=[{"pupil_ref": "p1", "age": 12}, {"pupil_ref": "p2"}])
    r = await api.delete(f"/api/groups/{group['id']}/pupils/p1", headers=school[1])
    assert r.status_code == 200 and [p["pupil_ref"] for p in r.json()["pupils"]] == ["p2"]
    assert (await api.delete(f"/api/groups/{group['id']}/pupils/p1", headers=school[1])).status_code == 404

    async def erased():
        return [e["data"] for e in await stream_events(js, topology) if e["type"].endswith("pupil.erased.v1")]

    (found,) = await eventually(erased)
    registered = next(e["data"] for e in await stream_events(js, topology) if e["type"].endswith("group.registered.v1"))
    p1 = registered["pupils"][0]["pupil_ref"]  # her pseudonym
    assert found == {"pupil_ref": p1, "group_id": group["id"], "programme_id": programme["id"]}


async def test_a_closed_programme_refuses_edits_and_withdrawals(api):
    programme = await api.programme()
    school = await api.school()
    group = await api.group(school, programme["id"])
    await api.post(f"/api/programmes/{programme['id']}/close", headers=ADMIN)
    r = await api.post(f"/api/groups/{group['id']}/withdraw", headers=school[1])
    assert r.status_code == 409 and problem(r) == "programme_closed" and "deadline" in r.json()


async def test_a_school_sees_all_its_groups_as_they_are_now_oldest_first(api):
    programme = await api.programme()
    school, other = await api.school("12AB"), await api.school("34CD")
    first = await api.group(school, programme["id"], pupil_count=12)
    second = await api.group(school, programme["id"], pupil_count=14)
    await api.group(other, programme["id"])

    async def listed():
        r = await api.get(f"/api/schools/{school[0]}/groups", headers=school[1])
        assert r.status_code == 200
        for shown in r.json():  # each exactly as its own page shows it
            assert shown == (await api.get(f"/api/groups/{shown['id']}", headers=school[1])).json()
        return [(g["id"], g["pupil_count"], g["status"], g["revision"]) for g in r.json()]

    assert await listed() == [(first["id"], 12, "registered", 1), (second["id"], 14, "registered", 1)]
    body = group_replacement(programme["id"], pupil_count=20)
    assert (await api.put(f"/api/groups/{first['id']}", headers=school[1], json=body)).status_code == 200
    assert (await api.post(f"/api/groups/{second['id']}/withdraw", headers=school[1])).status_code == 200
    assert await listed() == [(first["id"], 20, "registered", 2), (second["id"], 14, "withdrawn", 2)]
    assert (await api.get(f"/api/schools/{school[0]}/groups", headers=other[1])).status_code == 403
