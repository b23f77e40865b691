"""Every endpoint: own data allowed, another's refused (403), no credentials 401, admin allowed."""

from tests.integration.registration.conftest import ADMIN, activity_body, activity_replacement, group_body, group_replacement

NO_AUTH: dict = {}
BAD = {"Authorization": "Bearer gds_not-a-real-secret"}


async def _world(api):
    programme = await api.programme()
    school, other_school = await api.school("12AB"), await api.school("34CD")
    company, other_company = await api.company("12345678"), await api.company("87654321")
    return programme, school, other_school, company, other_company


def _school_endpoints(programme_id: str):
    """(label, make request given the school id and a fresh group of that school)."""
    update = group_replacement(programme_id)
    return [
        ("GET school", lambda s, g: ("GET", f"/api/schools/{s}", None)),
        ("POST group", lambda s, g: ("POST", f"/api/schools/{s}/groups", group_body(programme_id))),
        ("GET groups", lambda s, g: ("GET", f"/api/schools/{s}/groups", None)),
        ("GET group", lambda s, g: ("GET", f"/api/groups/{g}", None)),
        ("PUT group", lambda s, g: ("PUT", f"/api/groups/{g}", update)),
        ("PATCH group", lambda s, g: ("PATCH", f"/api/groups/{g}", {"pupil_count": 13})),
        ("PUT rankings", lambda s, g: ("PUT", f"/api/groups/{g}/rankings", {"rankings": {}})),
        ("POST withdraw", lambda s, g: ("POST", f"/api/groups/{g}/withdraw", None)),
        ("DELETE pupil", lambda s, g: ("DELETE", f"/api/groups/{g}/pupils/p1", None)),
    ]


def _company_endpoints(programme_id: str):
    update = activity_replacement(programme_id)
    return [
        ("GET company", lambda c, a: ("GET", f"/api/companies/{c}", None)),
        ("POST activity", lambda c, a: ("POST", f"/api/companies/{c}/activities", activity_body(programme_id))),
        ("GET activities", lambda c, a: ("GET", f"/api/companies/{c}/activities", None)),
        ("GET activity", lambda c, a: ("GET", f"/api/activities/{a}", None)),
        ("PUT activity", lambda c, a: ("PUT", f"/api/activities/{a}", update)),
        ("PATCH activity", lambda c, a: ("PATCH", f"/api/activities/{a}", {"title": "Nieuw"})),
        ("PUT capacity", lambda c, a: ("PUT", f"/api/activities/{a}/capacity", {"capacity": 12})),
        ("POST cancel", lambda c, a: ("POST", f"/api/activities/{a}/cancel", None)),
    ]


async def _call(api, request, headers):
    method, path, body = request
    return await api.request(method, path, json=body, headers=headers)


async def test_every_school_endpoint_allows_the_school_itself_and_the_admin_and_refuses_everyone_else(api):
    programme, school, other_school, company, _ = await _world(api)
    for label, make in _school_endpoints(programme["id"]):
        for who, headers, expected in (
            ("nobody", NO_AUTH, {401}),
            ("unknown token", BAD, {401}),
            ("another school", other_school[1], {403}),
            ("a company", company[1], {403}),
            ("the school", school[1], {200, 201}),
            ("admin", ADMIN, {200, 201}),
        ):
            group = await api.group(school, programme["id"], pupils=[{"pupil_ref": "p1"}])
            r = await _call(api, make(school[0], group["id"]), headers)
            assert r.status_code in expected, f"{label} by {who}: {r.status_code} {r.text}"
            if r.status_code == 401:
                assert r.headers["www-authenticate"] == "Bearer"


async def test_every_company_endpoint_allows_the_company_itself_and_the_admin_and_refuses_everyone_else(api):
    programme, school, _, company, other_company = await _world(api)
    for label, make in _company_endpoints(programme["id"]):
        for who, headers, expected in (
            ("nobody", NO_AUTH, {401}),
            ("unknown token", BAD, {401}),
            ("another company", other_company[1], {403}),
            ("a school", school[1], {403}),
            ("the company", company[1], {200, 201}),
            ("admin", ADMIN, {200, 201}),
        ):
            activity = await api.activity(company, programme["id"])
            r = await _call(api, make(company[0], activity["id"]), headers)
            assert r.status_code in expected, f"{label} by {who}: {r.status_code} {r.text}"


async def test_admin_endpoints_refuse_schools_companies_and_anonymous_callers(api):
    programme, school, _, company, _ = await _world(api)
    body = {
        "kind": "girls_day",
        "name": "X",
        "event_date": "2030-04-08",
        "opens_at": "2030-01-01T00:00:00Z",
        "closes_at": "2030-03-01T00:00:00Z",
    }
    endpoints = [
        ("POST programme", "/api/programmes", {"json": body}),
        ("POST close", f"/api/programmes/{programme['id']}/close", {}),
        (
            "POST import",
            "/api/imports/schools",
            {"content": b"brin,name,level,postcode,contact_name,contact_email\n", "headers": {"content-type": "text/csv"}},
        ),
    ]
    for label, path, kw in endpoints:
        for who, headers, expected in (
            ("nobody", NO_AUTH, 401),
            ("unknown token", BAD, 401),
            ("a school", school[1], 403),
            ("a company", company[1], 403),
        ):
            r = await api.post(path, headers={**kw.get("headers", {}), **headers}, **{k: v for k, v in kw.items() if k != "headers"})
            assert r.status_code == expected, f"{label} by {who}: {r.status_code} {r.text}"
        r = await api.post(path, headers={**kw.get("headers", {}), **ADMIN}, **{k: v for k, v in kw.items() if k != "headers"})
        assert r.status_code in (200, 201), f"{label} by admin: {r.status_code} {r.text}"


async def test_registering_and_reading_the_offer_need_no_credentials(api):
    programme = await api.programme()
    assert (await api.get("/api/programmes")).status_code == 200
    assert (await api.get(f"/api/programmes/{programme['id']}/activities")).status_code == 200
    assert (await api.get("/api/ping")).status_code == 200
    await api.school("56EF")
    await api.company("11112222")
