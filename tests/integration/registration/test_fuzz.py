"""Schemathesis fuzzes every operation of the registration OpenAPI against the running service: no 5xx."""

from __future__ import annotations

import asyncio

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st

from services.registration.app import build_app
from tests.e2e.test_registration_browser import serving
from tests.integration.registration.conftest import ADMIN, Api

EXAMPLES = 20


def fuzz(schema, base: str, real_ids: dict[str, str], credentials: list[dict]) -> list[str]:
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), real=st.booleans(), who=st.sampled_from(credentials))
        def run(case, real, who):
            params = case.path_parameters or {}
            if real:  # reach the rules behind the 404s
                params.update({k: real_ids[k] for k in params if k in real_ids})
                if isinstance(case.body, dict) and "programme_id" in case.body:
                    case.body["programme_id"] = real_ids["programme_id"]
            response = case.call(base_url=base, headers=who, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        run()
    return failures


async def test_fuzzing_the_openapi_finds_no_server_error(settings, js):
    async with serving(build_app(settings)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            api = Api(http)
            programme = await api.programme()
            school, company = await api.school(), await api.company()
            activity = await api.activity(company, programme["id"])
            group = await api.group(school, programme["id"], pupils=[{"pupil_ref": "p1"}])
            schema = schemathesis.openapi.from_dict((await http.get("/openapi.json")).json())
        ids = {
            "programme_id": programme["id"],
            "school_id": school[0],
            "company_id": company[0],
            "activity_id": activity["id"],
            "group_id": group["id"],
            "pupil_ref": "p1",
        }
        failures = await asyncio.to_thread(fuzz, schema, base, ids, [ADMIN, school[1], company[1], {}])
    assert failures == []
