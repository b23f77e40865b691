"""The surveys service on a real NATS and a real database, driven by hand-made upstream events."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime

import pytest

from services.surveys.app import build_app
from services.surveys.config import SurveysConfig
from shared.contracts import PupilErased
from shared.problems import code
from tests.conftest import ADMIN, running
from tests.helpers import eventually

from .helpers import ANSWERS, Clock, cancelled, erased, group, placement, programme, publish, surveys_events

EVENT_DAY = date(2027, 4, 8)
BEFORE = datetime(2027, 3, 20, 10, tzinfo=UTC)
AFTER = datetime(2027, 4, 9, 10, tzinfo=UTC)
REFS = [f"pup-{i:02d}" for i in range(12)]


@contextlib.asynccontextmanager
async def surveys_service(settings, clock, **config):
    cfg = SurveysConfig(results_interval_s=0.2, reminder_interval_s=3600, **config)
    async with running(build_app(settings, cfg, clock)) as client:
        yield client


async def teacher(client, school="12AB", programme_id="gd-2027", expect_pupils=None, consented="pup-00"):
    link = (await client.get(f"/api/v1/admin/teacher-links/{programme_id}/{school}", headers=ADMIN)).json()["url"]
    key = link.split("key=")[1]

    async def overview():
        r = await client.get(f"/api/v1/teacher/{programme_id}/{school}", params={"key": key})
        data = r.json()
        pupils = [p for g in data["groups"] for p in g["pupils"]]
        return data if expect_pupils is None or len(pupils) == expect_pupils else None

    found = await eventually(overview)
    first = tokens(found, "pre").get(consented) if consented else None
    if first:  # registration's group event (consent) may arrive after matching's placement

        async def consent_known():
            return (await client.get(f"/api/v1/surveys/{first}")).status_code == 200

        await eventually(consent_known)
    return key, found


def tokens(overview, phase):
    return {p["pupil_ref"]: p[phase]["token"] for g in overview["groups"] for p in g["pupils"] if p.get(phase)}


async def setup_school(js, topology, refs=REFS, no_consent=("pup-11",)):
    await publish(js, topology, programme(EVENT_DAY))
    await publish(js, topology, group("g-1", "12AB", refs, no_consent=no_consent))
    await publish(js, topology, placement("pl-1", "g-1", "12AB", refs))


def likert(v: int, intention: str) -> dict:
    return {**{k: v for k in ANSWERS if k != "intention_technical_study"}, "intention_technical_study": intention}


async def test_placement_to_results_walks_the_whole_flow(settings, js, topology):
    clock = Clock(BEFORE)
    async with surveys_service(settings, clock) as client:
        await setup_school(js, topology)
        _, overview = await teacher(client, expect_pupils=12)
        pre, post = tokens(overview, "pre"), tokens(overview, "post")
        assert len(set(pre.values()) | set(post.values())) == 24 and all(len(t) >= 32 for t in pre.values())

        # pre: eleven pupils with consent answer; the twelfth (no consent) is refused, nothing stored
        for i, ref in enumerate(REFS[:11]):
            r = await client.post(f"/api/v1/surveys/{pre[ref]}/response", json={"answers": likert(2 + i % 2, "no")})
            assert r.status_code == 201, r.text
        r = await client.post(f"/api/v1/surveys/{pre['pup-11']}/response", json={"answers": ANSWERS})
        assert (r.status_code, code(r.json())) == (403, "consent_required")
        # post is not open before the event day
        r = await client.post(f"/api/v1/surveys/{post['pup-00']}/response", json={"answers": ANSWERS})
        assert (r.status_code, code(r.json())) == (409, "phase_not_open")

        clock.moment = AFTER
        r = await client.post(f"/api/v1/surveys/{pre['pup-00']}/response", json={"answers": ANSWERS})
        assert r.status_code == 409  # used tokens say so even after the close
        for i, ref in enumerate(REFS[:11]):
            r = await client.post(f"/api/v1/surveys/{post[ref]}/response", json={"answers": likert(4 + i % 2, "yes" if i < 8 else "maybe")})
            assert r.status_code == 201, r.text

        results = (await client.get("/api/v1/admin/results/gd-2027", params={"fresh": "true"}, headers=ADMIN)).json()
        assert results["paired"]["n_pairs"] == 11
        intention = results["paired"]["items"]["intention_technical_study"]
        assert (intention["became_yes"], intention["stopped_yes"]) == (8, 0)
        assert intention["p_value"] == pytest.approx(2 / 256, abs=1e-6)
        likert_shift = results["paired"]["items"]["interest_tech"]
        assert likert_shift["mean_shift"] == 2.0 and likert_shift["effect_size"]["value"] == 1.0
        assert results["response_rates"]["programme"]["pre"] == {"invited": 12, "responded": 11, "rate": 0.9167}
        assert results["unpaired"]["label"].startswith("unpaired")

        async def events_arrived():
            found = await surveys_events(js, topology)
            recorded = [e for e in found if e["type"] == "nl.vhto.girlsday.surveys.response.recorded.v1"]
            updated = [e for e in found if e["type"] == "nl.vhto.girlsday.surveys.results.updated.v1"]
            return (recorded, updated) if len(recorded) == 22 and any(u["data"]["paired"] == 11 for u in updated) else None

        recorded, updated = await eventually(events_arrived, timeout=15)
        assert {e["data"]["phase"] for e in recorded} == {"pre", "post"}
        assert all("pupil_ref" not in e["data"] and "answers" not in e["data"] for e in recorded)
        last = [u for u in updated if u["data"]["paired"] == 11][-1]["data"]
        assert last["responded"] == {"pre": 11, "post": 11}
        assert last["effects"]["intention_technical_study"]["shift"] == pytest.approx(8 / 11, abs=1e-4)

        # erasure removes that pupil's tokens and responses; the results follow
        await publish(js, topology, erased("pup-00"))

        async def gone():
            r = await client.get(f"/api/v1/surveys/{post['pup-00']}")
            return r.status_code == 404

        await eventually(gone)
        results = (await client.get("/api/v1/admin/results/gd-2027", params={"fresh": "true"}, headers=ADMIN)).json()
        assert results["paired"]["n_pairs"] == 10
        assert results["response_rates"]["programme"]["post"]["invited"] == 11


async def test_bad_input_gets_a_precise_4xx_and_stores_nothing(settings, js, topology):
    clock = Clock(BEFORE)
    async with surveys_service(settings, clock) as client:
        await setup_school(js, topology)
        _, overview = await teacher(client, expect_pupils=12)
        token = tokens(overview, "pre")["pup-01"]

        r = await client.post("/api/v1/surveys/" + "x" * 32 + "/response", json={"answers": ANSWERS})
        assert (r.status_code, code(r.json())) == (404, "unknown_token")
        r = await client.post(f"/api/v1/surveys/{token}/response", json={"answers": {**ANSWERS, "interest_tech": 9, "interest_jobs": None}})
        assert r.status_code == 422
        assert {(e["field"], e["rule"]) for e in r.json()["errors"]} == {
            ("answers.interest_tech", "out_of_range"),
            ("answers.interest_jobs", "missing"),
        }
        r = await client.post(f"/api/v1/surveys/{token}/response", json={"answers": ANSWERS})
        assert r.status_code == 201  # nothing partial was stored by the refused attempt
        r = await client.post(f"/api/v1/surveys/{token}/response", json={"answers": ANSWERS})
        assert (r.status_code, code(r.json())) == (409, "already_responded")
        twice = tokens(overview, "pre")["pup-05"]  # the same token sent twice at the same moment
        both = await asyncio.gather(*(client.post(f"/api/v1/surveys/{twice}/response", json={"answers": ANSWERS}) for _ in range(2)))
        assert sorted(r.status_code for r in both) == [201, 409]

        clock.moment = AFTER
        other = tokens(overview, "pre")["pup-02"]
        r = await client.post(f"/api/v1/surveys/{other}/response", json={"answers": ANSWERS})
        assert (r.status_code, code(r.json())) == (410, "phase_closed")

        # wrong teacher key, wrong admin token
        assert (await client.get("/api/v1/teacher/gd-2027/12AB", params={"key": "0" * 32})).status_code == 403
        assert (await client.get("/api/v1/teacher/gd-2027/99ZZ", params={"key": _key(overview)})).status_code == 403
        assert (await client.get("/api/v1/admin/results/gd-2027")).status_code == 401


async def test_unusual_request_bodies_get_the_same_answers_as_usual_ones_and_are_counted(settings, js, topology):
    clock = Clock(BEFORE)
    async with surveys_service(settings, clock) as client:
        await setup_school(js, topology)
        _, overview = await teacher(client, expect_pupils=12)
        pre = tokens(overview, "pre")
        before = await counted(client)

        # FastAPI's own validation for what the fast path does not take: no answers, a nested value, not JSON
        for body in ({"answer": ANSWERS}, {"answers": {**ANSWERS, "interest_tech": [3]}}, {"answers": "3"}):
            r = await client.post(f"/api/v1/surveys/{pre['pup-01']}/response", json=body)
            assert r.status_code == 422 and code(r.json()) == "validation_failed" and r.json()["errors"][0]["location"] == "body"
        r = await client.post(
            f"/api/v1/surveys/{pre['pup-01']}/response", content=b"answers=3", headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert r.status_code == 422
        # a float Likert answer goes through FastAPI and is stored like the integer it is
        r = await client.post(f"/api/v1/surveys/{pre['pup-01']}/response", json={"answers": {**ANSWERS, "interest_tech": 3.0}})
        assert r.status_code == 201 and set(r.json()) == {"response_id"}
        # the usual body: the same statuses and bodies as documented
        r = await client.post(
            f"/api/v1/surveys/{pre['pup-02']}/response",
            json={"answers": ANSWERS, "extra": 1},
            headers={"content-type": "application/json; charset=utf-8"},
        )
        assert r.status_code == 201 and set(r.json()) == {"response_id"}
        r = await client.post(f"/api/v1/surveys/{pre['pup-02']}/response", json={"answers": ANSWERS})
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == {
            "type": "tag:vhto.nl,2026:girlsday/problems/already_responded",
            "title": "Already responded",
            "status": 409,
            "detail": "this token has already been used; the first response stands",
            "instance": f"/api/v1/surveys/{pre['pup-02']}/response",
        }
        r = await client.post(f"/api/v1/surveys/{pre['pup-03']}/response", json={"answers": {**ANSWERS, "interest_tech": 0}})
        assert r.status_code == 422 and [(e["field"], e["rule"]) for e in r.json()["errors"]] == [("answers.interest_tech", "out_of_range")]

        assert await counted(client) - before == 8  # each under its route's template


async def counted(client) -> float:
    """Response submissions the service's HTTP metrics have counted."""
    route = 'route="/api/v1/surveys/{token}/response"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in (await client.get("/metrics")).text.splitlines()
        if line.startswith("girlsday_http_requests_total") and route in line and 'service="surveys"' in line
    )


def _key(_overview) -> str:
    return "f" * 32


async def test_admin_sets_close_dates_and_questionnaire_versions(settings, js, topology):
    clock = Clock(BEFORE)
    async with surveys_service(settings, clock) as client:
        await setup_school(js, topology)
        _, overview = await teacher(client, expect_pupils=12)
        token = tokens(overview, "pre")["pup-03"]

        r = await client.put("/api/v1/admin/programmes/gd-2027/windows", headers=ADMIN, json={"pre_closes": "2027-03-15T00:00:00Z"})
        assert r.status_code == 200
        assert code((await client.get(f"/api/v1/surveys/{token}")).json()) == "phase_closed"
        await client.put("/api/v1/admin/programmes/gd-2027/windows", headers=ADMIN, json={"pre_closes": None})
        assert (await client.put("/api/v1/admin/programmes/nope/windows", headers=ADMIN, json={})).status_code == 404

        definition = {
            "key": "gd-special",
            "phase": "pre",
            "version": 2,
            "title": {"nl": "Korte lijst", "en": "Short list"},
            "items": [
                {"id": "interest_tech", "kind": "likert", "text": {"nl": "Techniek is leuk.", "en": "Tech is fun."}},
                {"id": "intention_technical_study", "kind": "intention", "text": {"nl": "Technische studie?", "en": "Technical study?"}},
            ],
        }
        r = await client.post("/api/v1/admin/programmes/gd-2027/questionnaires", headers=ADMIN, json=definition)
        assert r.status_code == 201, r.text
        r = await client.post("/api/v1/admin/programmes/gd-2027/questionnaires", headers=ADMIN, json=definition)
        assert r.status_code == 409
        r = await client.post(
            "/api/v1/admin/programmes/gd-2027/questionnaires", headers=ADMIN, json={**definition, "version": 3, "items": []}
        )
        assert r.status_code == 422
        survey = (await client.get(f"/api/v1/surveys/{token}")).json()
        assert survey["questionnaire"] == "gd-special.pre.v2" and len(survey["items"]) == 2
        r = await client.post(
            f"/api/v1/surveys/{token}/response", json={"answers": {"interest_tech": 4, "intention_technical_study": "maybe"}}
        )
        assert r.status_code == 201


async def test_cancelled_placement_stops_unused_tokens_and_keeps_given_answers(settings, js, topology):
    clock = Clock(BEFORE)
    async with surveys_service(settings, clock) as client:
        await setup_school(js, topology)
        _, overview = await teacher(client, expect_pupils=12)
        pre = tokens(overview, "pre")
        assert (await client.post(f"/api/v1/surveys/{pre['pup-00']}/response", json={"answers": ANSWERS})).status_code == 201
        await publish(js, topology, cancelled(placement("pl-1", "g-1", "12AB", REFS)))

        async def stopped():
            return (await client.get(f"/api/v1/surveys/{pre['pup-01']}")).status_code == 404

        await eventually(stopped)
        assert code((await client.get(f"/api/v1/surveys/{pre['pup-00']}")).json()) == "already_responded"


async def test_pupils_of_two_schools_with_the_same_code_are_two_pupils(settings, js, topology):
    """Pupil codes are unique within a group only: consent, tokens and erasure belong to (group, code)."""
    clock = Clock(BEFORE)
    async with surveys_service(settings, clock) as client:
        await setup_school(js, topology, no_consent=())
        await publish(js, topology, group("g-2", "34CD", ["pup-00", "pup-01"], no_consent=("pup-00",)))
        await publish(js, topology, placement("pl-2", "g-2", "34CD", ["pup-00", "pup-01"]))
        _, first = await teacher(client, "12AB", expect_pupils=12)
        key, second = await teacher(client, "34CD", expect_pupils=2, consented="pup-01")
        mine, theirs = tokens(first, "pre")["pup-00"], tokens(second, "pre")["pup-00"]
        assert mine != theirs and tokens(second, "post")["pup-00"]

        # each pupil answers under her own consent: 12AB's pup-00 has it, 34CD's pup-00 has not
        assert (await client.post(f"/api/v1/surveys/{mine}/response", json={"answers": ANSWERS})).status_code == 201
        r = await client.post(f"/api/v1/surveys/{theirs}/response", json={"answers": ANSWERS})
        assert code(r.json()) == "consent_required"

        # erasing 34CD's pup-00 leaves 12AB's pup-00 and her answers alone
        await publish(js, topology, erased("pup-00", group_id="g-2"))

        async def gone():
            return (await client.get(f"/api/v1/surveys/{theirs}")).status_code == 404

        await eventually(gone)
        assert code((await client.get(f"/api/v1/surveys/{mine}")).json()) == "already_responded"
        assert code((await client.get(f"/api/v1/surveys/{tokens(first, 'post')['pup-00']}")).json()) == "phase_not_open"
        overview = (await client.get("/api/v1/teacher/gd-2027/34CD", params={"key": key})).json()
        assert [p["pupil_ref"] for g in overview["groups"] for p in g["pupils"]] == ["pup-01"]


async def test_an_erasure_naming_no_group_is_dead_lettered_and_erases_nobody(settings, js, topology):
    clock = Clock(BEFORE)
    async with surveys_service(settings, clock) as client:
        await setup_school(js, topology)
        _, overview = await teacher(client, expect_pupils=12)
        await publish(js, topology, PupilErased(pupil_ref="pup-00"))  # whose "pup-00"? it cannot say

        async def dead_lettered():
            stream = topology.stream("DEAD_LETTER")
            info = await js.stream_info(stream)
            return (
                [await js.get_msg(stream, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)]
                if info.state.messages
                else None
            )

        letters = await eventually(dead_lettered)
        assert any("names no group" in m.headers["Girlsday-Reason"] for m in letters)
        assert (await client.get(f"/api/v1/surveys/{tokens(overview, 'pre')['pup-00']}")).status_code == 200


async def test_a_lagging_school_gets_one_reminder_event_and_sees_it(settings, js, topology):
    clock = Clock(datetime(2027, 4, 6, 10, tzinfo=UTC))  # two days before pre closes
    async with surveys_service(settings, clock, reminder_threshold=0.5) as client:
        await setup_school(js, topology)
        key, overview = await teacher(client, expect_pupils=12)
        for ref in REFS[:3]:
            await client.post(f"/api/v1/surveys/{tokens(overview, 'pre')[ref]}/response", json={"answers": ANSWERS})

        first = (await client.post("/api/v1/admin/reminders/check", headers=ADMIN)).json()["sent"]
        again = (await client.post("/api/v1/admin/reminders/check", headers=ADMIN)).json()["sent"]
        assert first == [{"programme_id": "gd-2027", "school_id": "12AB", "phase": "pre"}] and again == []

        async def reminder_event():
            found = await surveys_events(js, topology)
            return [e["data"] for e in found if e["type"] == "nl.vhto.girlsday.surveys.reminder.due.v1"]

        (due,) = await eventually(reminder_event)
        assert (
            due["response_rate"] == 0.25
            and due["phase"] == "pre"
            and set(due) == {"programme_id", "school_id", "phase", "response_rate", "closes_at"}
        )

        async def results_event():
            found = await surveys_events(js, topology)
            return [e["data"] for e in found if e["type"] == "nl.vhto.girlsday.surveys.results.updated.v1" and e["data"]["effects"]]

        small = (await eventually(results_event))[-1]  # three responses: nothing shown on its own
        assert small["invited"] == {} and small["responded"] == {} and small["paired"] == 0
        assert all(effect == {"suppressed": "fewer than 10 responses"} for effect in small["effects"].values())

        page = await client.get("/leraar/gd-2027/12AB", params={"key": key})
        assert page.status_code == 200 and 'id="reminder-pre"' in page.text and "Herinnering" in page.text
        wrong = await client.get("/leraar/gd-2027/12AB", params={"key": "0" * 32})
        assert wrong.status_code == 403 and "Deze docentenlink klopt niet" in wrong.text
        png = await client.get(f"/api/v1/teacher/gd-2027/12AB/qr/{tokens(overview, 'pre')['pup-05']}.png", params={"key": key})
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


async def test_pupil_pages_speak_dutch_first_and_explain_every_refusal(settings, js, topology):
    clock = Clock(BEFORE)
    async with surveys_service(settings, clock) as client:
        await setup_school(js, topology)
        _, overview = await teacher(client, expect_pupils=12)
        pre, post = tokens(overview, "pre"), tokens(overview, "post")

        page = await client.get(f"/s/{pre['pup-04']}")
        assert page.status_code == 200 and '<html lang="nl">' in page.text and "Ik vind techniek interessant." in page.text
        english = await client.get(f"/s/{pre['pup-04']}", params={"lang": "en"})
        assert "I find technology interesting." in english.text

        partial = {k: str(v) for k, v in ANSWERS.items() if k != "interest_tech"}
        r = await client.post(f"/s/{pre['pup-04']}", data=partial)
        assert r.status_code == 422 and "Deze vraag moet je nog beantwoorden." in r.text
        assert (await client.get(f"/api/v1/surveys/{pre['pup-04']}")).status_code == 200  # nothing stored
        r = await client.post(f"/s/{pre['pup-04']}", data={k: str(v) for k, v in ANSWERS.items()})
        assert r.status_code == 201 and "Bedankt!" in r.text
        assert "al ingevuld" in (await client.get(f"/s/{pre['pup-04']}")).text
        assert "toestemming" in (await client.get(f"/s/{pre['pup-11']}")).text
        assert "nog niet open" in (await client.get(f"/s/{post['pup-04']}")).text
        assert "kennen we niet" in (await client.get("/s/unknown-token-0000000000")).text
        strange = await client.post("/s/%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00", data={"x": "\x00"})
        assert strange.status_code == 404 and "kennen we niet" in strange.text
