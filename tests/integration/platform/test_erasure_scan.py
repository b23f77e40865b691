"""The scan: after a scripted edition with erasures, no erased pupil's code or survey token is left
in any table, database file, stream, dead letter or log line of the platform.

The edition runs the four real services on a real NATS and database: a programme, two schools
with a group each, a company with two activities; one pupil is erased before matching, matching
runs and publishes, pupils answer the pre-survey; then surveys goes down, two more pupils (one who
answered) are erased, a consumer's dead letter still holds their group's codes, and surveys comes
back. Kept pupils are found everywhere they should be, so the scan cannot pass by finding nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from services.registration.store import erasures
from shared.contracts import names_subject
from shared.erasure import truncate_wal
from shared.logs import quiet_libraries
from tests.helpers import eventually
from tests.integration.platform.edition import (
    all_consumed,
    allocate,
    answers,
    file_bytes,
    messages,
    register,
    service,
    stream_text,
    table_text,
    teacher_tokens,
)

ERASED_BEFORE_MATCHING = "wis-voor-01"
ERASED_AFTER_ANSWERING = "wis-na-02"
ERASED_WHILE_DOWN = "wis-weg-03"
ERASED = (ERASED_BEFORE_MATCHING, ERASED_AFTER_ANSWERING, ERASED_WHILE_DOWN)
KEPT = "blijft-04"


async def test_no_erased_pupil_is_left_in_any_table_file_stream_dead_letter_or_log(settings, js, topology, caplog):
    caplog.set_level(logging.DEBUG)  # every line a service may write, at the most talkative level
    quiet_libraries()  # as configure_logging does in every service process
    async with (
        service(settings, "registration") as (reg, registration),
        service(settings, "matching") as (match, matching),
        service(settings, "reporting") as (_, reporting),
    ):
        programme, schools = await register(reg, [*ERASED, KEPT])
        first_school, first_secret, first_group = schools[0]
        assert (await reg.delete(f"/api/groups/{first_group}/pupils/{ERASED_BEFORE_MATCHING}", headers=first_secret)).status_code == 200

        async with service(settings, "surveys") as (surveys, _):
            await allocate(match, programme)
            tokens = await eventually(lambda: teacher_tokens(surveys, programme, first_school, expect=11), timeout=30)
            for code in (ERASED_AFTER_ANSWERING, KEPT):
                answered = await surveys.post(f"/api/v1/surveys/{tokens[code]['pre']}/response", json={"answers": answers()})
                assert answered.status_code == 201, answered.text
        erased_tokens = [t for code in (ERASED_AFTER_ANSWERING, ERASED_WHILE_DOWN) for t in tokens[code].values()]
        kept_tokens = list(tokens[KEPT].values())

        # surveys is down; a consumer had dead-lettered the event with the group's codes
        subject = topology.subject(names_subject(programme, first_group))
        named = [m for m in await messages(js, topology.stream("REGISTRATION")) if m.subject == subject]
        dead = topology.subject(f"deadletter.surveys.surveys-invitations-registration.{names_subject(programme, first_group)}")
        await js.publish(dead, named[-1].data, stream=topology.stream("DEAD_LETTER"), headers={"Girlsday-Original-Subject": subject})
        for code in (ERASED_AFTER_ANSWERING, ERASED_WHILE_DOWN):
            assert (await reg.delete(f"/api/groups/{first_group}/pupils/{code}", headers=first_secret)).status_code == 200
        await eventually(lambda: _purged(registration), timeout=30)

        async with service(settings, "surveys") as (surveys, survey_runtime):
            await eventually(lambda: all_consumed(js, topology), timeout=30)
            left = await teacher_tokens(surveys, programme, first_school, expect=None)
            assert ERASED_AFTER_ANSWERING not in left and ERASED_WHILE_DOWN not in left and KEPT in left
            runtimes = {"registration": registration, "matching": matching, "surveys": survey_runtime, "reporting": reporting}
            for runtime in runtimes.values():
                await truncate_wal(runtime.engine)  # what the services' periodic jobs do

            tables = {name: await table_text(runtime) for name, runtime in runtimes.items()}
            files = {name: file_bytes(runtime.database_url) for name, runtime in runtimes.items()}
            streams = {config.name: await stream_text(js, config.name) for config in topology.stream_configs()}
    logs = "\n".join(_record_text(r) for r in caplog.records if r.name != "httpx")  # httpx: this test's own client

    places = {**{f"table {k}": v for k, v in tables.items()}, **{f"stream {k}": v for k, v in streams.items()}, "logs": logs}
    places |= {f"file {k}": v.decode("latin-1") for k, v in files.items() if v is not None}
    for needle in (*ERASED, *erased_tokens):
        found = [where for where, haystack in places.items() if needle in haystack]
        assert found == [], f"{needle!r} is still in {found}"
    # the scan sees what it should: the kept pupil's code and tokens are where they belong
    assert KEPT in tables["registration"] and KEPT in tables["surveys"] and KEPT in streams[topology.stream("REGISTRATION")]
    assert all(t in tables["surveys"] for t in kept_tokens)
    if files["registration"] is not None:
        assert KEPT.encode() in files["registration"]


async def _purged(registration) -> bool:
    async with registration.sessions() as session:
        rows = (await session.execute(select(erasures.c.purged_at))).scalars().all()
    return len(rows) == 3 and all(rows)


def _record_text(record: logging.LogRecord) -> str:
    message = record.getMessage()
    extra = {k: v for k, v in vars(record).items() if k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__}
    return f"{record.name} {message} {extra!r} {record.exc_text or ''}"
