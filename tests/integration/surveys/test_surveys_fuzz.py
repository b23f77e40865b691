"""Schemathesis fuzzes every operation of the surveys OpenAPI against the running service: no 5xx."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st

from services.surveys.app import build_app
from services.surveys.config import SurveysConfig
from tests.conftest import ADMIN
from tests.e2e.test_surveys_browser import serving
from tests.helpers import eventually, free_port

from .helpers import Clock, group, placement, programme, publish

EXAMPLES = 25


def fuzz(schema, base: str, tokens: list[str], teacher_key: str) -> list[str]:
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
        @given(case=operation.as_strategy(), real=st.booleans(), token=st.sampled_from(tokens))
        def run(case, real, token):
            params = case.path_parameters or {}
            if real and "token" in params:  # reach the answer validation, not only the 404
                params["token"] = token
            if real and "school_id" in params:
                params.update(programme_id="gd-2027", school_id="12AB")
                case.query = {**(case.query or {}), "key": teacher_key}
            response = case.call(base_url=base, headers=ADMIN, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        run()
    return failures


async def test_fuzzing_the_openapi_finds_no_server_error(settings, js, topology):
    port = free_port()
    settings = settings.model_copy(update={"surveys_public_url": f"http://127.0.0.1:{port}"})
    app = build_app(settings, SurveysConfig(results_interval_s=0.5), Clock(datetime(2027, 3, 20, 10, tzinfo=UTC)))
    refs = [f"pup-{i:02d}" for i in range(12)]
    async with serving(app, port) as base:
        import httpx

        await publish(js, topology, programme(date(2027, 4, 8)))
        await publish(js, topology, group("g-1", "12AB", refs, no_consent=("pup-11",)))
        await publish(js, topology, placement("pl-1", "g-1", "12AB", refs))
        async with httpx.AsyncClient(base_url=base) as http:
            link = (await http.get("/api/v1/admin/teacher-links/gd-2027/12AB", headers=ADMIN)).json()["url"]
            key = link.split("key=")[1]

            async def tokens():
                data = (await http.get("/api/v1/teacher/gd-2027/12AB", params={"key": key})).json()
                found = [p[phase]["token"] for g in data["groups"] for p in g["pupils"] for phase in ("pre", "post")]
                return found if len(found) == 24 else None

            found = await eventually(tokens)
            schema = schemathesis.openapi.from_dict((await http.get("/openapi.json")).json())
        failures = await asyncio.to_thread(fuzz, schema, base, found, key)
    assert failures == []
