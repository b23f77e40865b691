"""Individual mode on a real NATS: pupil codes are unique only within a group, so two schools may
both have a pupil "2b-01"; each is allocated, waitlisted and explained as the pupil she is."""

import asyncio
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


async def run_when_read(client, programme_id: str, pupils: int) -> dict:
    """A run (seed 1) once the read model holds all `pupils` pupils of the programme."""

    async def ready():
        r = await client.post(f"/api/programmes/{programme_id}/runs", json={"seed": 1}, headers=ADMIN)
        q = r.json()["quality"] if r.status_code == 201 else {}
        return r.json() if q.get("placed_pupils", 0) + q.get("unplaced_pupils", 0) == pupils else None

    return await eventually(ready, timeout=30)


async def events_after(js, topology, before: int, expected: int) -> list[tuple[str, dict]]:
    """The matching events after the first `before`, once at least `expected` came and no more follow."""

    async def arrived():
        new = (await matching_events(js, topology))[before:]
        return new if len(new) >= expected else None

    await eventually(arrived, timeout=20)
    await asyncio.sleep(0.5)  # nothing more comes
    return (await matching_events(js, topology))[before:]


async def test_pupils_with_the_same_code_in_groups_of_different_schools_are_allocated_waitlisted_and_explained_each_on_their_own(
    start_service, js, topology
):
    for data in registrations():
        await send(js, topology, data)
    async with start_service("matching") as client:
        run = await run_when_read(client, P, 6)
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
        run = await run_when_read(client, P, 6)
        assert run["quality"]["unplaced_pupils"] == 4
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


Q = "gd-2027-individual-after"


def individual_programme() -> list[c.Contract]:
    """Lab (2 places, Utrecht) and plant (1 place, Amersfoort). Both Utrecht pupils take the lab,
    the Amersfoort "a-01" the plant; "a-02" (lab, 20 km away) and "z-01" (plant, 60 km) wait."""

    def pupils(*ranked: tuple[str, list[str]]) -> list[c.PupilRef]:
        return [c.PupilRef(pupil_ref=ref, age=13, parental_consent=True, ranking=acts) for ref, acts in ranked]

    return [
        c.ProgrammeOpened(programme_id=Q, kind="girls_day", name="Girls' Day 2027", event_date=date(2027, 4, 8),
                          registration_opens=T, registration_closes=T, target_pupils=5, target_schools=3,
                          target_companies=1, allocation_mode="individual", min_group_size=1, min_age=10, max_age=15),
        c.SchoolRegistered(school_id="s-utrecht", brin="12AB", name="Het Baken", level="vo", postcode="3511 AB"),
        c.SchoolRegistered(school_id="s-amersfoort", brin="34CD", name="De Vallei", level="vo", postcode="3811"),
        c.SchoolRegistered(school_id="s-zwolle", brin="56EF", name="De IJssel", level="vo", postcode="8011"),
        c.CompanyRegistered(company_id="k1", kvk="12345678", name="Lab BV", postcode="3512"),
        lab(capacity=2, revision=1),
        c.ActivityRegistered(activity_id="plant", company_id="k1", programme_id=Q, title="Plant", sector="energy",
                             capacity=1, levels=["vo"], postcode="3812"),
        c.GroupRegistered(group_id=UTRECHT, school_id="s-utrecht", programme_id=Q, pupil_count=2, ages=[13],
                          pupils=pupils(("u-01", ["lab"]), ("u-02", ["lab"]))),
        c.GroupRegistered(group_id=AMERSFOORT, school_id="s-amersfoort", programme_id=Q, pupil_count=2, ages=[13],
                          pupils=pupils(("a-01", ["plant"]), ("a-02", ["lab"]))),
        c.GroupRegistered(group_id=ZWOLLE, school_id="s-zwolle", programme_id=Q, pupil_count=1, ages=[13],
                          pupils=pupils(("z-01", ["plant"]))),
    ]  # fmt: skip


def lab(capacity: int, revision: int) -> c.ActivityRegistered:
    kind = c.ActivityRegistered if revision == 1 else c.ActivityUpdated
    return kind(activity_id="lab", company_id="k1", programme_id=Q, title="Lab", sector="science", capacity=capacity,
                levels=["vo"], postcode="3512", revision=revision)  # fmt: skip


def summary(events: list[tuple[str, dict]]) -> list[tuple]:
    """Placement and waiting-list events as (type, group, activity, codes, reason)."""
    return sorted((t, d["group_id"], d.get("activity_id"), tuple(d["pupil_refs"]), d["reason"])
                  for t, d in events if t != "completed")  # fmt: skip


async def test_after_publishing_an_individual_programme_only_the_affected_pupils_move_and_waiting_pupils_fill_freed_places(
    start_service, js, topology
):
    for data in individual_programme():
        await send(js, topology, data)
    async with start_service("matching") as client:
        run = await run_when_read(client, Q, 5)
        assert (await client.post(f"/api/runs/{run['run_id']}/publish", headers=ADMIN)).status_code == 200

        # Published: one placement per pupil, so two Utrecht pupils at the lab are two placements.
        published = await events_after(js, topology, 0, 6)
        assert summary([e for e in published if e[0] == "assigned"]) == sorted(
            [
                ("assigned", AMERSFOORT, "plant", ("a-01",), "run"),
                ("assigned", UTRECHT, "lab", ("u-01",), "run"),
                ("assigned", UTRECHT, "lab", ("u-02",), "run"),
            ]
        )
        assert summary([e for e in published if e[0] == "waitlisted"]) == sorted(
            [
                ("waitlisted", AMERSFOORT, None, ("a-02",), "every listed activity is full"),
                ("waitlisted", ZWOLLE, None, ("z-01",), "every listed activity is full"),
            ]
        )
        placement_of = {(d["group_id"], d["pupil_refs"][0]): d["placement_id"] for t, d in published if t == "assigned"}

        async def active() -> dict[tuple[str, str], tuple[str, str]]:
            rows = (await client.get(f"/api/programmes/{Q}/placements", headers=ADMIN)).json()
            assert all(len(r["pupil_refs"]) == r["pupils"] == 1 for r in rows)
            return {(r["group_id"], r["pupil_refs"][0]): (r["activity_id"], r["id"]) for r in rows}

        # The lab shrinks to one place: of the two Utrecht pupils (equally far) one leaves, by pupil
        # id, and waits (the lab was her only choice). Her classmate keeps her placement, untouched.
        before = len(published)
        await send(js, topology, lab(capacity=1, revision=2))
        assert summary(await events_after(js, topology, before, 2)) == sorted(
            [
                ("cancelled", UTRECHT, "lab", ("u-01",), "capacity reduced"),
                ("waitlisted", UTRECHT, None, ("u-01",), "every listed activity is full"),
            ]
        )
        assert await active() == {(UTRECHT, "u-02"): ("lab", placement_of[UTRECHT, "u-02"]),
                                  (AMERSFOORT, "a-01"): ("plant", placement_of[AMERSFOORT, "a-01"])}  # fmt: skip

        # The plant is cancelled: only its pupil moves (to the waiting list: she listed nothing
        # else); "z-01", who waited for the plant, still waits and is not announced again.
        before = len(await matching_events(js, topology))
        await send(js, topology, c.ActivityCancelled(activity_id="plant", company_id="k1", programme_id=Q, revision=2))
        assert summary(await events_after(js, topology, before, 2)) == sorted(
            [
                ("cancelled", AMERSFOORT, "plant", ("a-01",), "activity cancelled"),
                ("waitlisted", AMERSFOORT, None, ("a-01",), "no listed activity exists"),
            ]
        )
        assert await active() == {(UTRECHT, "u-02"): ("lab", placement_of[UTRECHT, "u-02"])}

        # The lab grows to three places: the two waiting pupils who asked for it fill them; "u-01"
        # is back at the lab under a new placement id (consumers key placements by it).
        before = len(await matching_events(js, topology))
        await send(js, topology, lab(capacity=3, revision=3))
        refilled = await events_after(js, topology, before, 2)
        assert summary(refilled) == sorted(
            [
                ("assigned", AMERSFOORT, "lab", ("a-02",), "re-allocated"),
                ("assigned", UTRECHT, "lab", ("u-01",), "re-allocated"),
            ]
        )
        now = await active()
        assert {k: a for k, (a, _) in now.items()} == {
            (UTRECHT, "u-01"): "lab", (UTRECHT, "u-02"): "lab", (AMERSFOORT, "a-02"): "lab"}  # fmt: skip
        assert now[UTRECHT, "u-02"][1] == placement_of[UTRECHT, "u-02"]
        assert now[UTRECHT, "u-01"][1] != placement_of[UTRECHT, "u-01"]
        waiting = (await client.get(f"/api/programmes/{Q}/waitlist", headers=ADMIN)).json()
        assert sorted(w["unit_id"] for w in waiting) == [f"{AMERSFOORT}/a-01", f"{ZWOLLE}/z-01"]


async def test_a_placement_of_several_pupils_that_loses_some_is_re_issued_for_those_who_stay_and_an_erased_pupils_seat_is_freed(
    start_service, js, topology, monkeypatch
):
    from services.matching import service
    from services.matching.domain import allocate_pupils

    # A run stored before placements were one per pupil: one row per (group, activity).
    def grouped(inst, seed, max_placed=False):
        params = {"band_km": 10.0, "max_placed": max_placed}
        return allocate_pupils(inst.pupils, inst.activities, seed=seed, **params), "digest"

    monkeypatch.setattr(service, "compute", grouped)
    for data in individual_programme():
        await send(js, topology, data)
    async with start_service("matching") as client:
        run = await run_when_read(client, Q, 5)
        assert (await client.post(f"/api/runs/{run['run_id']}/publish", headers=ADMIN)).status_code == 200

        published = await events_after(js, topology, 0, 5)
        assert ("assigned", UTRECHT, "lab", ("u-01", "u-02"), "run") in summary(published)

        # The lab shrinks to one place: "u-01" leaves; the shared placement ends and "u-02", who
        # stays, gets a placement of her own at the same activity. Nobody is lost or counted twice.
        before = len(published)
        await send(js, topology, lab(capacity=1, revision=2))
        assert summary(await events_after(js, topology, before, 3)) == sorted([
            ("cancelled", UTRECHT, "lab", ("u-01", "u-02"), "capacity reduced"),
            ("assigned", UTRECHT, "lab", ("u-02",),
             "unchanged activity: placement re-issued for this pupil alone (capacity reduced for others)"),
            ("waitlisted", UTRECHT, None, ("u-01",), "every listed activity is full"),
        ])  # fmt: skip
        rows = (await client.get(f"/api/programmes/{Q}/placements", headers=ADMIN)).json()
        assert sorted((r["group_id"], r["activity_id"], r["pupil_refs"], r["pupils"]) for r in rows) == sorted([
            (UTRECHT, "lab", ["u-02"], 1), (AMERSFOORT, "plant", ["a-01"], 1)])  # fmt: skip

        # "a-01" is erased: her seat at the plant is freed at the next re-allocation, and the
        # waiting "z-01" takes it; the lab's new place goes to "u-01" (closer than "a-02").
        await send(js, topology, c.PupilErased(pupil_ref="a-01", group_id=AMERSFOORT, programme_id=Q))

        async def erased():
            r = await client.get(f"/api/programmes/{Q}/explanations/{AMERSFOORT}/a-01", headers=ADMIN)
            return r.status_code == 404

        await eventually(erased, timeout=20)
        before = len(await matching_events(js, topology))
        await send(js, topology, lab(capacity=2, revision=3))
        assert summary(await events_after(js, topology, before, 3)) == sorted(
            [
                ("cancelled", AMERSFOORT, "plant", (), "pupil erased"),
                ("assigned", ZWOLLE, "plant", ("z-01",), "re-allocated"),
                ("assigned", UTRECHT, "lab", ("u-01",), "re-allocated"),
            ]
        )
        waiting = (await client.get(f"/api/programmes/{Q}/waitlist", headers=ADMIN)).json()
        assert [w["unit_id"] for w in waiting] == [f"{AMERSFOORT}/a-02"]
