"""The ESF+ participant register of energy-transition programmes, on a running registration service
(real NATS, SQLite and PostgreSQL): registering, one record per person, attendance dates, partner
employers' isolation, retention figures, and the BSN never in clear outside the sealed column."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from services.registration.app import _forget_expired_registers, build_app
from services.registration.store import metadata, participants
from tests.conftest import running
from tests.helpers import eventually
from tests.integration.registration.conftest import ADMIN, Api, problem, rules, stream_events

BSN = "111222333"


def person(**kw) -> dict:
    return {
        "name": "Fatima Yilmaz", "email": "fatima@example.nl", "bsn": BSN, "gender": "female", "target_group": "career_switcher",
        "age_band": "30-54", "isced": "3-4", "labour_status": "employed", "postcode": "6811 AB", "consents": {"register": True},
        **kw,
    }  # fmt: skip


@pytest.fixture
async def site(settings, js):
    app = build_app(settings)
    async with running(app) as client:
        yield Api(client), app.state.runtime


async def energy_programme(api: Api) -> str:
    return (await api.programme(kind="energy_transition"))["id"]


async def test_a_participant_registers_herself_and_learns_no_more_than_that_it_worked(site, js, topology):
    api, _ = site
    programme_id = await energy_programme(api)
    r = await api.post(f"/api/programmes/{programme_id}/participants", json=person())
    assert r.status_code == 201 and set(r.json()) == {"id", "status"}
    listed = (await api.get(f"/api/programmes/{programme_id}/participants", headers=ADMIN)).json()
    assert [p["name"] for p in listed] == ["Fatima Yilmaz"] and "person_number" not in listed[0]
    revealed = (await api.get(f"/api/programmes/{programme_id}/participants?reveal=true", headers=ADMIN)).json()
    assert revealed[0]["person_number"] == BSN and revealed[0]["person_kind"] == "bsn"

    async def registered():
        return [e for e in await stream_events(js, topology) if e["type"].endswith("participant.registered.v1")]

    event = (await eventually(registered))[0]
    assert event["data"]["participant_id"] == r.json()["id"] and event["data"]["postcode_area"] == "6811"
    for secret in ("Fatima", "fatima@example.nl", BSN, "female", "30-54"):
        assert secret not in str(event)


async def test_the_person_number_is_in_no_table_and_no_event_in_clear(site, js, topology):
    api, runtime = site
    programme_id = await energy_programme(api)
    assert (await api.post(f"/api/programmes/{programme_id}/participants", json=person())).status_code == 201
    assert (
        await api.post(f"/api/programmes/{programme_id}/participants", json=person(bsn="", onderwijsnummer="101222331"))
    ).status_code == 201
    async with runtime.engine.connect() as conn:
        dumped = []
        for table in metadata.sorted_tables:
            dumped += [str(tuple(row)) for row in await conn.execute(select(table))]
    await eventually(lambda: _events_at_least(js, topology, 4))
    events = str(await stream_events(js, topology))
    for number in (BSN, "101222331"):
        assert not any(number in row for row in dumped) and number not in events


async def _events_at_least(js, topology, n):
    return len(await stream_events(js, topology)) >= n


async def test_the_same_person_registered_twice_is_one_record_with_the_first_start_and_the_last_end(site):
    api, _ = site
    programme_id = await energy_programme(api)
    company = await api.company()
    visit = await api.activity(
        company, programme_id, title="Kijkje in het onderstation", sector="energy", levels=["mbo"], min_age=16, max_age=25
    )
    first = (await api.post(f"/api/programmes/{programme_id}/participants", json=person())).json()["id"]
    for day in ("2026-03-10", "2026-05-02"):
        r = await api.post(f"/api/activities/{visit['id']}/attendance", headers=company[1], json={"day": day, "attended": [first]})
        assert r.status_code == 200, r.text
    again = await api.post(f"/api/programmes/{programme_id}/participants", headers=ADMIN, json=person(bsn="1112.22.333", isced="5-8"))
    assert again.status_code == 200 and again.json()["id"] == first
    (one,) = (await api.get(f"/api/programmes/{programme_id}/participants", headers=ADMIN)).json()
    assert (one["first_activity"], one["last_activity"], one["isced"]) == ("2026-03-10", "2026-05-02", "5-8")


async def test_an_invalid_bsn_a_child_and_a_missing_consent_are_refused_each_on_its_field(site):
    api, _ = site
    programme_id = await energy_programme(api)
    r = await api.post(f"/api/programmes/{programme_id}/participants",
                       json=person(bsn="123456789", age_band="<18", consents={"register": False}))  # fmt: skip
    assert r.status_code == 422
    assert rules(r) == {("bsn", "bsn_invalid"), ("age_band", "too_young"), ("consents.register", "consent_required")}
    r = await api.post(f"/api/programmes/{programme_id}/participants", json=person(target_group="student_mbo", birth_date="2012-01-01"))
    assert r.status_code == 422 and rules(r) == {("birth_date", "too_young")}


async def test_a_girls_day_programme_keeps_no_participant_register(site):
    api, _ = site
    programme = await api.programme()
    r = await api.post(f"/api/programmes/{programme['id']}/participants", json=person())
    assert r.status_code == 409 and problem(r) == "not_energy_transition"


async def test_a_partner_employer_sees_only_her_own_participants_and_never_a_person_number(site):
    api, _ = site
    programme_id = await energy_programme(api)
    alliander, joulz = await api.company("11111111"), await api.company("22222222")
    mine = await api.post(f"/api/programmes/{programme_id}/participants", headers=alliander[1], json=person(target_group="team_leader"))
    theirs = await api.post(
        f"/api/programmes/{programme_id}/participants", headers=joulz[1], json=person(bsn="123456782", name="Els de Wit")
    )
    assert mine.status_code == 201 and theirs.status_code == 201
    listed = (await api.get(f"/api/programmes/{programme_id}/participants", headers=alliander[1])).json()
    assert [p["id"] for p in listed] == [mine.json()["id"]] and "person_number" not in listed[0]
    assert (await api.get(f"/api/programmes/{programme_id}/participants?reveal=true", headers=alliander[1])).status_code == 403
    assert (await api.get(f"/api/participants/{theirs.json()['id']}", headers=alliander[1])).status_code == 403
    again = await api.post(f"/api/programmes/{programme_id}/participants", headers=alliander[1], json=person(bsn="123456782"))
    assert again.status_code == 409 and problem(again) == "registered_by_another_employer"


async def test_retention_figures_replace_their_period_and_impossible_figures_are_refused(site):
    api, _ = site
    programme_id = await energy_programme(api)
    company = await api.company()
    url = f"/api/programmes/{programme_id}/retention"
    assert (await api.put(f"{url}/2026-H1", headers=company[1], json={"women_technical": 40, "hired": 6, "kept": 30})).status_code == 200
    r = await api.put(f"{url}/2026-H1", headers=company[1], json={"women_technical": 42, "hired": 8, "kept": 31})
    assert r.json()["revision"] == 2
    bad = await api.put(f"{url}/2026-H3", headers=company[1], json={"women_technical": 5, "hired": 6, "kept": 9})
    assert bad.status_code == 422 and rules(bad) == {
        ("period", "period_format"),
        ("kept", "kept_above_total"),
    }
    assert (await api.get(url, headers=company[1])).json() == [
        {"company_id": company[0], "period": "2026-H1", "women_technical": 42, "hired": 8, "kept": 31, "revision": 2}
    ]


async def test_the_retention_job_deletes_a_register_whose_date_has_passed_and_says_so(site, js, topology):
    api, runtime = site
    kept, expired = await energy_programme(api), await energy_programme(api)
    for programme_id, bsn in ((kept, BSN), (expired, "123456782")):
        assert (await api.post(f"/api/programmes/{programme_id}/participants", json=person(bsn=bsn))).status_code == 201
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert (await api.put(f"/api/programmes/{expired}/register", headers=ADMIN, json={"keep_until": yesterday})).status_code == 200
    assert (await api.put(f"/api/programmes/{kept}/register", headers=ADMIN, json={"keep_until": "2036-12-31"})).status_code == 200
    assert await _forget_expired_registers(runtime) == 1
    async with runtime.engine.connect() as conn:
        left = (await conn.execute(select(participants.c.programme_id))).scalars().all()
    assert left == [kept]

    async def erased():
        return [e["data"] for e in await stream_events(js, topology) if e["type"].endswith("participant.erased.v1")]

    assert (await eventually(erased))[0]["reason"] == "retention"


async def test_the_bsn_report_lists_who_was_active_in_the_year(site):
    api, _ = site
    programme_id = await energy_programme(api)
    company = await api.company()
    visit = await api.activity(company, programme_id, sector="energy", levels=["mbo"], min_age=16, max_age=25)
    a = (await api.post(f"/api/programmes/{programme_id}/participants", json=person())).json()["id"]
    b = (await api.post(f"/api/programmes/{programme_id}/participants", json=person(bsn="123456782", name="Els de Wit"))).json()["id"]
    await api.post(f"/api/activities/{visit['id']}/attendance", headers=ADMIN, json={"day": "2025-11-20", "attended": [a], "absent": [b]})
    report = (await api.get(f"/api/programmes/{programme_id}/register/bsn-report/2025", headers=ADMIN)).json()
    assert [(r["name"], r["person_number"], r["first_activity"]) for r in report] == [("Fatima Yilmaz", BSN, "2025-11-20")]
    assert (await api.get(f"/api/programmes/{programme_id}/register/bsn-report/2025", headers=company[1])).status_code == 403
    this_year = (await api.get(f"/api/programmes/{programme_id}/register/bsn-report/{date.today().year}", headers=ADMIN)).json()
    assert [r["name"] for r in this_year] == ["Els de Wit"]  # registered this year, no activity yet


async def test_the_indicator_table_counts_the_register_by_gender(site):
    api, _ = site
    programme_id = await energy_programme(api)
    for bsn, gender in ((BSN, "female"), ("123456782", "non_binary")):
        assert (await api.post(f"/api/programmes/{programme_id}/participants", json=person(bsn=bsn, gender=gender))).status_code == 201
    table = {row["indicator"]: row for row in (await api.get(f"/api/programmes/{programme_id}/register/indicators", headers=ADMIN)).json()}
    assert table["participants"] == {"indicator": "participants", "female": 1, "male": 0, "non_binary": 1, "total": 2}
    assert table["status_employed"]["total"] == 2


async def test_energy_transition_activities_have_a_format_and_an_audience_and_need_no_school_level_or_age(site, js, topology):
    api, _ = site
    programme_id = await energy_programme(api)
    girls_day = (await api.programme())["id"]
    company = await api.company()
    workshop = {"programme_id": programme_id, "title": "Leidinggeven aan vrouwen in de techniek", "sector": "energy", "capacity": 16,
                "starts_at": "13:00", "ends_at": "17:00", "postcode": "6812 AR", "format": "workshop", "audience": ["team_leader"]}  # fmt: skip
    r = await api.post(f"/api/companies/{company[0]}/activities", headers=company[1], json=workshop)
    assert r.status_code == 201, r.text
    assert (r.json()["format"], r.json()["audience"], r.json()["levels"], r.json()["min_age"]) == ("workshop", ["team_leader"], [], None)
    default = await api.activity(company, programme_id, sector="energy")
    assert default["format"] == "site_visit"  # an energy-transition activity is a site visit unless it says otherwise
    bad = await api.post(f"/api/companies/{company[0]}/activities", headers=company[1], json={**workshop, "programme_id": girls_day})
    assert bad.status_code == 422
    assert rules(bad) == {("format", "format_for_programme"), ("audience", "audience_for_energy_transition"), ("levels", "required"),
                          ("min_age", "required"), ("max_age", "required")}  # fmt: skip

    async def announced():
        events = [e["data"] for e in await stream_events(js, topology) if e["type"].endswith("activity.registered.v1")]
        return events if len(events) == 2 else None

    assert sorted(e["format"] for e in await eventually(announced)) == ["site_visit", "workshop"]
