import asyncio

from tests.helpers import eventually
from tests.integration.registration.conftest import ADMIN, bearer, group_body, problem, rules, school_body, stream_events


async def test_a_retried_school_registration_with_the_same_key_creates_one_school_and_returns_the_same_secret(api, js, topology):
    headers = {"Idempotency-Key": "reg-12AB-1"}
    first = await api.post("/api/schools", json=school_body(), headers=headers)
    retry = await api.post("/api/schools", json=school_body(), headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert (
        await api.get(f"/api/schools/{first.json()['school']['id']}", headers=bearer(retry.json()["account_secret"]))
    ).status_code == 200
    await asyncio.sleep(0.6)
    assert len(await stream_events(js, topology)) == 1


async def test_the_same_key_for_a_different_request_is_refused(api):
    await api.post("/api/schools", json=school_body("12AB"), headers={"Idempotency-Key": "k1"})
    r = await api.post("/api/schools", json=school_body("34CD"), headers={"Idempotency-Key": "k1"})
    assert r.status_code == 422 and rules(r) == {("Idempotency-Key", "idempotency_key_reused")}


async def test_concurrent_retries_of_a_group_registration_create_one_group_and_one_event(api, js, topology):
    programme = await api.programme()
    school = await api.school()
    headers = {**school[1], "Idempotency-Key": "group-1"}
    answers = await asyncio.gather(
        *(api.post(f"/api/schools/{school[0]}/groups", json=group_body(programme["id"]), headers=headers) for _ in range(8))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len((await api.get(f"/api/schools/{school[0]}/groups", headers=school[1])).json()) == 1

    async def group_events():
        return [e for e in await stream_events(js, topology) if ".group." in e["type"]]

    await eventually(group_events)
    await asyncio.sleep(0.6)
    assert len(await group_events()) == 1


async def test_keys_belong_to_their_caller(api):
    """Two schools may pick the same key without seeing each other's answers."""
    programme = await api.programme()
    a, b = await api.school("12AB"), await api.school("34CD")
    ra = await api.post(f"/api/schools/{a[0]}/groups", json=group_body(programme["id"]), headers={**a[1], "Idempotency-Key": "same"})
    rb = await api.post(f"/api/schools/{b[0]}/groups", json=group_body(programme["id"]), headers={**b[1], "Idempotency-Key": "same"})
    assert ra.status_code == rb.status_code == 201 and ra.json()["school_id"] != rb.json()["school_id"]


async def test_concurrent_registrations_of_one_brin_give_one_201_and_409s(api):
    answers = await asyncio.gather(*(api.post("/api/schools", json=school_body("77XY")) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5


async def test_oversized_bodies_are_refused_with_413(api):
    big = school_body(name="x" * 70_000)
    r = await api.post("/api/schools", json=big)
    assert r.status_code == 413 and problem(r) == "body_too_large" and r.json()["limit"] == 64 * 1024

    async def chunks():
        for _ in range(100):
            yield b"x" * 1000

    r = await api.post("/api/schools", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = await api.post("/api/programmes", content=b"{}", headers={**ADMIN, "content-type": "application/json"})
    assert r.status_code == 422  # small bodies still reach the route
