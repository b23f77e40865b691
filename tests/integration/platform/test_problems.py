"""Every service answers every error in one format: RFC 9457 problem details (shared/problems.py)."""

from __future__ import annotations

import pytest

from shared.problems import MEDIA_TYPE, TYPE_BASE, Problem, code
from tests.conftest import ADMIN

PROGRAMME = {
    "kind": "girls_day",
    "name": "x",
    "event_date": "2099-04-01",
    "opens_at": "2099-01-01T00:00Z",
    "closes_at": "2099-03-01T00:00Z",
}
# per service: a request only the admin token may make, and one that FastAPI's own validation refuses
CASES = {
    "registration": {
        "admin_only": ("POST", "/api/programmes", {"json": {}}),
        "invalid": ("POST", "/api/programmes", {"json": PROGRAMME | {"event_date": "soon"}}),
        "invalid_field": ("body", "event_date", "date_from_datetime_parsing"),
    },
    "matching": {
        "admin_only": ("POST", "/api/programmes/p/runs", {"json": {}}),
        "invalid": ("POST", "/api/programmes/p/runs", {"json": {"seed": "many"}}),
        "invalid_field": ("body", "seed", "int_parsing"),
    },
    "surveys": {
        "admin_only": ("GET", "/api/v1/admin/results/p", {}),
        "invalid": ("PUT", "/api/v1/admin/programmes/p/windows", {"json": {"pre_closes": "tomorrow"}}),
        "invalid_field": ("body", "pre_closes", "datetime_from_date_parsing"),
    },
    "reporting": {
        "admin_only": None,  # reporting's API is behind the staff session (issue 12), not the admin token
        "invalid": ("GET", "/api/programmes/p/summary.csv", {"params": {"dialect": "excel-fr"}}),
        "invalid_field": ("query", "dialect", "literal_error"),
    },
}


def assert_problem(response, status: int, kind: str | None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert body["status"] == status and body["title"] and body["instance"] == response.request.url.path
    assert code(body) == kind
    return body


@pytest.mark.parametrize("service", list(CASES))
async def test_every_service_answers_errors_as_problem_details(service, start_service):
    case = CASES[service]
    async with start_service(service) as client:
        unknown = await client.get("/api/no-such-thing")
        assert assert_problem(unknown, 404, None)["type"] == "about:blank"
        assert unknown.json()["title"] == "Not Found"

        if case["admin_only"]:
            method, path, kw = case["admin_only"]
            for headers in ({}, {"Authorization": "Bearer not-the-admin-token"}):
                refused = await client.request(method, path, headers=headers, **kw)
                assert_problem(refused, 401, "unauthorised")
                assert refused.headers["www-authenticate"] == "Bearer"

        method, path, kw = case["invalid"]
        invalid = await client.request(method, path, headers=ADMIN, **kw)
        body = assert_problem(invalid, 422, "validation_failed")
        location, field, rule = case["invalid_field"]
        assert [(e["location"], e["field"], e["rule"]) for e in body["errors"]] == [(location, field, rule)]
        assert body["errors"][0]["message"] and field in body["detail"]
        assert "input" not in body["errors"][0]  # what was sent is not echoed back (it may be personal data)


@pytest.mark.parametrize("service", list(CASES))
async def test_the_openapi_document_describes_every_error_answer_as_problem_details(service, start_service):
    async with start_service(service) as client:
        document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and {"type", "title", "status", "errors"} <= set(schemas["Problem"]["properties"])
    errors = [
        answer
        for operations in document["paths"].values()
        for operation in operations.values()
        for status, answer in operation["responses"].items()
        if status[0] in "45"
    ]
    assert errors and all(answer["content"] == {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}} for answer in errors)


def test_a_problem_names_its_type_and_keeps_the_standard_members_its_own():
    problem = Problem(409, "duplicate_school", "BRIN 12AB exists", existing={"id": "s-1"})
    assert problem.body("/api/schools") == {
        "type": TYPE_BASE + "duplicate_school",
        "title": "Duplicate school",
        "status": 409,
        "detail": "BRIN 12AB exists",
        "instance": "/api/schools",
        "existing": {"id": "s-1"},
    }
    assert Problem(405, None).body() == {"type": "about:blank", "title": "Method Not Allowed", "status": 405}
    with pytest.raises(ValueError):
        Problem(409, "programme_closed", instance="/elsewhere")  # an extension may not shadow a standard member
