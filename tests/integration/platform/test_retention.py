"""Retention: a programme's data about pupils are deleted GIRLSDAY_PUPIL_DATA_RETENTION_DAYS after
its event date, by each service's own job, in every table and stream; what was never about a
pupil (groups and their counts, placements, aggregated results) stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.matching import retention as matching_retention
from services.matching.store import entities
from services.registration import retention as registration_retention
from services.surveys import retention as surveys_retention
from services.surveys.store import results
from shared.topology import DAY_S
from tests.conftest import ADMIN
from tests.helpers import eventually
from tests.integration.platform.edition import (
    all_consumed,
    allocate,
    answers,
    file_bytes,
    register,
    service,
    stream_text,
    table_text,
    teacher_tokens,
)

CODES = ["oud-01", "oud-02", "oud-03"]


async def test_pupil_data_expire_everywhere_after_the_retention_and_the_figures_stay(settings, js, topology):
    async with (
        service(settings, "registration") as (reg, registration),
        service(settings, "matching") as (match, matching),
        service(settings, "surveys") as (surveys, survey_runtime),
    ):
        programme, schools = await register(reg, CODES, event_in_days=20)
        school_id, secret, group_id = schools[0]
        await allocate(match, programme)
        tokens = await eventually(lambda: teacher_tokens(surveys, programme, school_id, expect=12), timeout=30)
        for code in CODES:
            assert (await surveys.post(f"/api/v1/surveys/{tokens[code]['pre']}/response", json={"answers": answers()})).status_code == 201
        await eventually(lambda: _results(survey_runtime, programme))
        await eventually(lambda: all_consumed(js, topology), timeout=30)
        runtimes = (registration, matching, survey_runtime)
        jobs = (registration_retention, matching_retention, surveys_retention)
        event_day = datetime.now(UTC) + timedelta(days=20)

        # within the retention nothing goes
        for job, runtime in zip(jobs, runtimes):
            assert await job.expire(runtime, now=event_day + timedelta(days=settings.pupil_data_retention_days - 1)) == []
        assert CODES[0] in await table_text(survey_runtime)

        later = event_day + timedelta(days=settings.pupil_data_retention_days + 1)
        for job, runtime in zip(jobs, runtimes):
            assert await job.expire(runtime, now=later) == [programme], job.__name__
            assert await job.expire(runtime, now=later) == []  # done once

        every_token = [t for phases in tokens.values() for t in phases.values()]
        places = {f"table {r.name}": await table_text(r) for r in runtimes}
        places |= {f"stream {c.name}": await stream_text(js, c.name) for c in topology.stream_configs()}
        places |= {f"file {r.name}": data.decode("latin-1") for r in runtimes if (data := file_bytes(r.database_url)) is not None}
        for needle in (*CODES, "klas-05", "tweede-01", *every_token):
            assert [where for where, text in places.items() if needle in text] == [], needle

        # what stays: the group with its pupil count, its placement, the results of the edition
        group = (await reg.get(f"/api/groups/{group_id}", headers=secret)).json()
        assert group["pupil_count"] == 12 and group["pupils"] == []
        assert (await match.get(f"/api/programmes/{programme}/placements", headers=ADMIN)).json()
        async with matching.sessions() as session:
            stored = (await session.execute(select(entities.c.data).where(entities.c.kind == "group", entities.c.id == group_id))).scalar()
        assert stored["pupils"] == [] and stored["pupil_count"] == 12
        assert await _results(survey_runtime, programme)
        await survey_runtime.relay.drain()
        assert await _results(survey_runtime, programme)  # not recomputed from nothing


async def test_streams_keep_events_for_the_stream_retention_and_dead_letters_for_theirs(settings, js, topology):
    async with service(settings, "registration"):
        for config in topology.stream_configs():
            info = await js.stream_info(config.name)
            days = settings.dead_letter_retention_days if config.name.endswith("DEAD_LETTER") else settings.stream_retention_days
            assert info.config.max_age == days * DAY_S, config.name


async def _results(runtime, programme: str) -> bool:
    async with runtime.sessions() as session:
        return bool((await session.execute(select(func.count()).select_from(results).where(results.c.programme_id == programme))).scalar())
