"""Individual mode on a real NATS: pupil codes are unique only within a group, so two schools may
both have a pupil "2b-01"; each is allocated, waitlisted and explained as the pupil she is."""

from datetime import date

from shared import contracts as c
from tests.conftest import ADMIN
from tests.helpers import eventually

from .test_event_flow import T, matching_events, send

P = "gd-2027-individual"
# Group ids as registration makes them (36-character UUIDs); with a 24-character pupil code the
# pupil's id "<group_id>/<pupil_ref>" needs 61 of the 64 characters a waiting-list unit id holds.
UTRECHT = "0b5e4a52-3c8e-4f0e-9a43-0d7c9c1e2a01"
AMERSFOORT = "1c6f5b63-4d9f-4a1f-8b54-1e8dad2f3b02"
ZWOLLE = "2d706c74-5eaf-4b20-9c65-2f9ebe304c03"
LONG = "klas-2b-leerling-0123456"


def registrations() -> list[c.Contract]:
    def pupils(*ranked: tuple[str, str]) -> list[c.PupilRef]:
        return [c.PupilRef(pupil_ref=ref, age=13, parental_consent=True, ranking=[activity]) for ref, activity in ranked]

    return [
        c.ProgrammeOpened(programme_id=P, kind="girls_day", name="Girls' Day 2027", event_date=date(2027, 4, 8),
                          registration_opens=T, registration_closes=T, target_pupils=10, target_schools=3,
                          target_companies=1, allocation_mode="individual", min_group_size=1, min_age=10, max_age=15),
        c.SchoolRegistered(school_id="s-utrecht", brin="12AB", name="Het Baken", level="vo", postcode="3511 AB"),
        c.SchoolRegistered(school_id="s-amersfoort", brin="34CD", name="De Vallei", level="vo", postcode="3811"),
        c.SchoolRegistered(school_id="s-zwolle", brin="56EF", name="De IJssel", level="vo", postcode="8011"),
        c.CompanyRegistered(company_id="k1", kvk="12345678", name="Lab BV", postcode="3512"),
        # One place each: the pupil from closer by (distance band of 10 km) gets it.
        c.ActivityRegistered(activity_id="lab", company_id="k1", programme_id=P, title="Lab", sector="science",
                             capacity=1, levels=["vo"], postcode="3512"),
        c.ActivityRegistered(activity_id="plant", company_id="k1", programme_id=P, title="Plant", sector="energy",
                             capacity=1, levels=["vo"], postcode="3812"),
        c.GroupRegistered(group_id=UTRECHT, school_id="s-utrecht", programme_id=P, pupil_count=1, ages=[13],
                          pupils=pupils(("2b-01", "lab"))),
        c.GroupRegistered(group_id=AMERSFOORT, school_id="s-amersfoort", programme_id=P, pupil_count=2, ages=[13],
                          pupils=pupils(("2b-01", "lab"), ("2b-02", "plant"))),
        c.GroupRegistered(group_id=ZWOLLE, school_id="s-zwolle", programme_id=P, pupil_count=3, ages=[13],
                          pupils=pupils(("2b-01", "lab"), ("2b-02", "plant"), (LONG, "plant"))),
    ]  # fmt: skip


async def test_pupils_with_the_same_code_in_groups_of_different_schools_are_allocated_waitlisted_and_explained_each_on_their_own(
    start_service, js, topology
):
    for data in registrations():
        await send(js, topology, data)
    async with start_service("matching") as client:
        async def ready():
            r = await client.post(f"/api/programmes/{P}/runs", json={"seed": 1}, headers=ADMIN)
            q = r.json()["quality"] if r.status_code == 201 else {}
            return r.json() if q.get("placed_pupils", 0) + q.get("unplaced_pupils", 0) == 6 else None

        run = await eventually(ready, timeout=30)
        assert run["mode"] == "individual" and run["quality"]["placed_pupils"] == 2
        run_id = run["run_id"]

        # The Utrecht "2b-01" takes the lab, the Amersfoort "2b-02" the plant; the Amersfoort and
        # Zwolle "2b-01" both wait, each on her own row with her own group and school.
        placed = (await client.get(f"/api/programmes/{P}/placements?run_id={run_id}", headers=ADMIN)).json()
        assert sorted((p["group_id"], p["activity_id"], p["pupil_refs"]) for p in placed) == sorted([
            (UTRECHT, "lab", ["2b-01"]), (AMERSFOORT, "plant", ["2b-02"])])  # fmt: skip
        waiting = (await client.get(f"/api/programmes/{P}/waitlist?run_id={run_id}", headers=ADMIN)).json()
        assert sorted((w["unit_id"], w["group_id"], w["school_id"], w["pupils"]) for w in waiting) == sorted([
            (f"{AMERSFOORT}/2b-01", AMERSFOORT, "s-amersfoort", 1),
            (f"{ZWOLLE}/2b-01", ZWOLLE, "s-zwolle", 1),
            (f"{ZWOLLE}/2b-02", ZWOLLE, "s-zwolle", 1),
            (f"{ZWOLLE}/{LONG}", ZWOLLE, "s-zwolle", 1),
        ])  # fmt: skip
        assert all("full" in w["reason"] for w in waiting)

        # A pupil is asked for as "<group_id>/<pupil_ref>"; each answer is about that pupil.
        async def why(group_id: str, ref: str) -> dict:
            r = await client.get(f"/api/programmes/{P}/explanations/{group_id}/{ref}?run_id={run_id}", headers=ADMIN)
            assert r.status_code == 200, r.text
            return r.json()

        for group_id, ref, activity in [(UTRECHT, "2b-01", "lab"), (AMERSFOORT, "2b-01", None), (ZWOLLE, "2b-01", None),
                                        (AMERSFOORT, "2b-02", "plant"), (ZWOLLE, "2b-02", None)]:  # fmt: skip
            answer = await why(group_id, ref)
            assert (answer["group_id"], answer["pupil_ref"], answer["activity_id"]) == (group_id, ref, activity)
            assert ("Choice number 1" in answer["why"]) if activity else ("Not placed: every listed activity is full" in answer["why"])
        # The bare code names no single pupil.
        assert (await client.get(f"/api/programmes/{P}/explanations/2b-01", headers=ADMIN)).status_code == 404
        # A group is still asked for by its id.
        assert (await client.get(f"/api/programmes/{P}/explanations/{ZWOLLE}", headers=ADMIN)).json()["group_id"] == ZWOLLE

        published = await client.post(f"/api/runs/{run_id}/publish", headers=ADMIN)
        assert published.status_code == 200, published.text

        async def out():
            events = await matching_events(js, topology)
            return events if "completed" in [t for t, _ in events] else None

        events = await eventually(out)
        assert sorted((d["group_id"], d["activity_id"], d["pupil_refs"]) for t, d in events if t == "assigned") == sorted([
            (UTRECHT, "lab", ["2b-01"]), (AMERSFOORT, "plant", ["2b-02"])])  # fmt: skip
        assert sorted(d["group_id"] for t, d in events if t == "waitlisted") == [AMERSFOORT, ZWOLLE, ZWOLLE, ZWOLLE]


async def test_erasing_one_schools_pupil_leaves_another_schools_pupil_with_the_same_code_alone(start_service, js, topology):
    for data in registrations():
        await send(js, topology, data)
    async with start_service("matching") as client:
        async def ready():
            r = await client.post(f"/api/programmes/{P}/runs", json={"seed": 1}, headers=ADMIN)
            return r.json() if r.status_code == 201 and r.json()["quality"]["unplaced_pupils"] == 4 else None

        run = await eventually(ready, timeout=30)
        assert (await client.post(f"/api/runs/{run['run_id']}/publish", headers=ADMIN)).status_code == 200
        await send(js, topology, c.PupilErased(pupil_ref="2b-02", group_id=ZWOLLE, programme_id=P))

        async def erased():
            r = await client.get(f"/api/programmes/{P}/explanations/{ZWOLLE}/2b-02", headers=ADMIN)
            return r.status_code == 404

        await eventually(erased, timeout=20)
        # The Amersfoort "2b-02" is still known and still placed under her code.
        kept = await client.get(f"/api/programmes/{P}/explanations/{AMERSFOORT}/2b-02", headers=ADMIN)
        assert kept.status_code == 200 and kept.json()["activity_id"] == "plant"
        placed = (await client.get(f"/api/programmes/{P}/placements", headers=ADMIN)).json()
        assert sorted((p["group_id"], p["pupil_refs"]) for p in placed) == sorted([(UTRECHT, ["2b-01"]), (AMERSFOORT, ["2b-02"])])
