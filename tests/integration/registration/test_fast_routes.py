"""The hot routes' fast path (services/registration/fast_routes.py) answers exactly as FastAPI does.

The same requests go to the service as it runs and to the same service with the fast path taken
out (every request then goes through FastAPI's routes), each on an empty database; the answers —
statuses, bodies with generated ids and secrets blanked, the headers that carry meaning — must
be the same, request by request.
"""

from __future__ import annotations

import re

from services.registration import fast_routes
from services.registration.app import build_app
from services.registration.fast_routes import FastRoutes
from tests.conftest import running
from tests.integration.registration.conftest import ADMIN, _empty, activity_body, bearer, company_body, group_body, school_body

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _blank(value, key: str = ""):
    """The answer with what differs from run to run (ids, secrets, times) blanked."""
    if isinstance(value, dict):
        return {k: _blank(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    if key in ("account_secret", "deadline", "opens_at", "closes_at", "event_date"):
        return "<blank>"
    if isinstance(value, str):
        return UUID.sub("<id>", value)
    return value


async def _scenario(client) -> list[tuple]:
    """Every hot route with good input, bad input, and every kind of credentials."""
    answers = []

    async def send(method: str, path: str, **kw):
        r = await client.request(method, path, **kw)
        location = r.headers.get("location")
        answers.append(
            (
                method,
                UUID.sub("<id>", path),
                r.status_code,
                r.headers.get("idempotent-replayed"),
                UUID.sub("<id>", location) if location else None,
                _blank(r.json()),
            )
        )
        return r

    r = await client.post(
        "/api/programmes",
        headers=ADMIN,
        json={
            "kind": "girls_day",
            "name": "Girls' Day",
            "event_date": "2099-04-01",
            "opens_at": "2020-01-01T00:00:00Z",
            "closes_at": "2099-03-01T00:00:00Z",
        },
    )
    programme = r.json()["id"]
    await client.post(f"/api/programmes/{programme}/open", headers=ADMIN)

    school = (await send("POST", "/api/schools", json=school_body("12AB"), headers={"Idempotency-Key": "s-1"})).json()
    school_id, school_auth = school["school"]["id"], bearer(school["account_secret"])
    await send("POST", "/api/schools", json=school_body("12AB"), headers={"Idempotency-Key": "s-1"})  # replayed
    await send("POST", "/api/schools", json=school_body("34CD"), headers={"Idempotency-Key": "s-1"})  # key reused
    await send("POST", "/api/schools", json=school_body("12AB"))  # duplicate BRIN: 409 pointing at it
    await send("POST", "/api/schools", json=school_body("12AB", colour="red"))  # unknown field
    await send("POST", "/api/schools", json=school_body("1"))  # BRIN format
    await send("POST", "/api/schools", content=b'{"brin": ', headers={"content-type": "application/json"})  # not JSON
    await send("POST", "/api/schools", content=b"brin=12AB", headers={"content-type": "application/x-www-form-urlencoded"})
    await send("POST", "/api/schools", json=school_body("56EF"), headers={"Authorization": "Bearer nobody"})  # optional auth
    await send("POST", "/api/schools", json=school_body("78GH"), headers={"Idempotency-Key": "k" * 201})
    other_school = (await send("POST", "/api/schools", json=school_body("90JK"))).json()

    company = (await send("POST", "/api/companies", json=company_body("12345678"))).json()
    company_id, company_auth = company["company"]["id"], bearer(company["account_secret"])
    await send("POST", "/api/companies", json=company_body("12345678"))  # duplicate KvK
    await send("POST", "/api/companies", json=company_body("1234"))  # KvK format
    other_company = bearer((await send("POST", "/api/companies", json=company_body("87654321"))).json()["account_secret"])

    activities = f"/api/companies/{company_id}/activities"
    activity = (await send("POST", activities, json=activity_body(programme), headers=company_auth)).json()
    await send("POST", activities, json=activity_body(programme, capacity=0), headers=company_auth)
    await send("POST", activities, json=activity_body("no-such-programme"), headers=company_auth)
    await send("POST", activities, json=activity_body(programme))  # no credentials
    await send("POST", activities, json=activity_body(programme), headers={"Authorization": "Bearer nobody"})
    await send("POST", activities, json=activity_body(programme), headers={"Authorization": "Basic abc"})
    await send("POST", activities, json=activity_body(programme), headers=other_company)  # another's
    await send("POST", activities, json=activity_body(programme), headers=ADMIN)  # admin may
    await send("POST", "/api/companies/no-such-company/activities", json=activity_body(programme), headers=ADMIN)

    groups = f"/api/schools/{school_id}/groups"
    await send("POST", groups, json=group_body(programme, preferred_activities=[activity["id"]]), headers=school_auth)
    await send("POST", groups, json=group_body(programme, preferred_activities=["no-such-activity"]), headers=school_auth)
    await send("POST", groups, json=group_body(programme, pupil_count=3), headers=school_auth)  # below the minimum
    await send("POST", groups, json=group_body(programme), headers=bearer(other_school["account_secret"]))
    await send("POST", groups, json=group_body(programme), headers={**school_auth, "Idempotency-Key": "g-1"})
    await send("POST", groups, json=group_body(programme), headers={**school_auth, "Idempotency-Key": "g-1"})

    await send("GET", groups, headers=school_auth)
    await send("GET", groups)
    await send("GET", groups, headers=bearer(other_school["account_secret"]))
    await send("GET", groups, headers=ADMIN)
    await send("GET", f"/api/programmes/{programme}/activities")
    await send("GET", "/api/programmes/no-such-programme/activities")
    return answers


async def test_the_fast_path_answers_every_hot_request_as_fastapi_does(settings, registration_pg, tmp_path, monkeypatch):
    answered = []  # what the fast path itself ran (else the comparison below would hold trivially)
    for name in ("run_once", "read"):
        original = getattr(fast_routes, name)

        async def spy(*args, _original=original, _name=name):
            answered.append(_name)
            return await _original(*args)

        monkeypatch.setattr(fast_routes, name, spy)
    fast = build_app(settings)
    assert any(m.cls is FastRoutes for m in fast.user_middleware)
    async with running(fast) as client:
        counted_before = await _group_registrations_counted(client)
        with_fast_path = await _scenario(client)
        counted = await _group_registrations_counted(client) - counted_before

    if registration_pg:
        await _empty(registration_pg)
        again = settings
    else:
        again = settings.model_copy(update={"registration_database_url": f"sqlite+aiosqlite:///{tmp_path / 'again.db'}"})
    plain = build_app(again)
    plain.user_middleware = [m for m in plain.user_middleware if m.cls is not FastRoutes]
    async with running(plain) as client:
        without = await _scenario(client)

    assert len(with_fast_path) == len(without) == 36
    for got, expected in zip(with_fast_path, without):
        assert got == expected
    statuses = {a[2] for a in with_fast_path}
    assert statuses == {200, 201, 401, 403, 404, 409, 422}
    assert counted == 3  # requests the fast path answered are counted under their route's template
    # 20 writes and 5 reads of the scenario are the fast path's; the rest (bad JSON, a body the model
    # refuses — unknown field, BRIN or KvK format —, missing or unusable credentials, a long key) went on to FastAPI
    assert (answered.count("run_once"), answered.count("read")) == (20, 5)


async def _group_registrations_counted(client) -> float:
    labels = 'method="POST",route="/api/schools/{school_id}/groups",service="registration",status="201"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in (await client.get("/metrics")).text.splitlines()
        if line.startswith("girlsday_http_requests_total{") and all(part in line for part in labels.split(","))
    )
