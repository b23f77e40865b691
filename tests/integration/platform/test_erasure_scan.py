"""The scan: after a scripted edition with erasures, no erased pupil's code or survey token is left
in any table, database file, stream, dead letter or log line of the platform.

The edition runs the four real services on a real NATS and database: a programme, two schools
with a group each, a company with two activities; one pupil is erased before matching, matching
runs and publishes, pupils answer the pre-survey; then surveys goes down, two more pupils (one who
answered) are erased, a consumer's dead letter still holds their group's codes, and surveys comes
back. Kept pupils are found everywhere they should be, so the scan cannot pass by finding nothing.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nats.js.errors import NotFoundError
from sqlalchemy import select, text

from services.registration.store import erasures
from shared.contracts import names_subject
from shared.erasure import truncate_wal
from shared.logs import quiet_libraries
from tests.conftest import ADMIN, running
from tests.helpers import eventually
from tests.integration.registration.conftest import activity_body, bearer, company_body, school_body

ERASED_BEFORE_MATCHING = "wis-voor-01"
ERASED_AFTER_ANSWERING = "wis-na-02"
ERASED_WHILE_DOWN = "wis-weg-03"
ERASED = (ERASED_BEFORE_MATCHING, ERASED_AFTER_ANSWERING, ERASED_WHILE_DOWN)
KEPT = "blijft-04"


@contextlib.asynccontextmanager
async def service(settings, name: str):
    app = importlib.import_module(f"services.{name}.app").build_app(settings)
    async with running(app) as client:
        yield client, app.state.runtime


async def test_no_erased_pupil_is_left_in_any_table_file_stream_dead_letter_or_log(settings, js, topology, caplog):
    caplog.set_level(logging.DEBUG)  # every line a service may write, at the most talkative level
    quiet_libraries()  # as configure_logging does in every service process
    async with (
        service(settings, "registration") as (reg, registration),
        service(settings, "matching") as (match, matching),
        service(settings, "reporting") as (_, reporting),
    ):
        programme, schools = await _register(reg)
        first_school, first_secret, first_group = schools[0]
        assert (await reg.delete(f"/api/groups/{first_group}/pupils/{ERASED_BEFORE_MATCHING}", headers=first_secret)).status_code == 200

        async with service(settings, "surveys") as (surveys, _):
            await _allocate(match, programme)
            tokens = await eventually(lambda: _tokens(surveys, programme, first_school, expect=11), timeout=30)
            for code in (ERASED_AFTER_ANSWERING, KEPT):
                answered = await surveys.post(f"/api/v1/surveys/{tokens[code]['pre']}/response", json={"answers": _answers()})
                assert answered.status_code == 201, answered.text
        erased_tokens = [t for code in (ERASED_AFTER_ANSWERING, ERASED_WHILE_DOWN) for t in tokens[code].values()]
        kept_tokens = list(tokens[KEPT].values())

        # surveys is down; a consumer had dead-lettered the event with the group's codes
        subject = topology.subject(names_subject(programme, first_group))
        named = [m for m in await _messages(js, topology.stream("REGISTRATION")) if m.subject == subject]
        dead = topology.subject(f"deadletter.surveys.surveys-invitations-registration.{names_subject(programme, first_group)}")
        await js.publish(dead, named[-1].data, stream=topology.stream("DEAD_LETTER"), headers={"Girlsday-Original-Subject": subject})
        for code in (ERASED_AFTER_ANSWERING, ERASED_WHILE_DOWN):
            assert (await reg.delete(f"/api/groups/{first_group}/pupils/{code}", headers=first_secret)).status_code == 200
        await eventually(lambda: _purged(registration), timeout=30)

        async with service(settings, "surveys") as (surveys, survey_runtime):
            await eventually(lambda: _all_consumed(js, topology), timeout=30)
            left = await _tokens(surveys, programme, first_school, expect=None)
            assert ERASED_AFTER_ANSWERING not in left and ERASED_WHILE_DOWN not in left and KEPT in left
            runtimes = {"registration": registration, "matching": matching, "surveys": survey_runtime, "reporting": reporting}
            for runtime in runtimes.values():
                await truncate_wal(runtime.engine)  # what the services' periodic jobs do

            tables = {name: await _table_text(runtime) for name, runtime in runtimes.items()}
            files = {name: _file_bytes(runtime.database_url) for name, runtime in runtimes.items()}
            streams = {config.name: await _stream_text(js, config.name) for config in topology.stream_configs()}
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


async def _register(reg) -> tuple[str, list[tuple[str, dict, str]]]:
    now = datetime.now(UTC)
    body = {
        "kind": "girls_day",
        "name": "Girls' Day scan",
        "event_date": (now + timedelta(days=20)).date().isoformat(),
        "opens_at": (now - timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=10)).isoformat(),
        "min_group_size": 10,
    }
    programme = (await reg.post("/api/programmes", json=body, headers=ADMIN)).json()["id"]
    assert (await reg.post(f"/api/programmes/{programme}/open", headers=ADMIN)).status_code == 200
    company = await reg.post("/api/companies", json=company_body())
    company_id, company_secret = company.json()["company"]["id"], bearer(company.json()["account_secret"])
    for title in ("Stroomnet", "Windpark"):
        activity = activity_body(programme, title=title, capacity=30, postcode="3511 AB")
        created = await reg.post(f"/api/companies/{company_id}/activities", json=activity, headers=company_secret)
        assert created.status_code == 201, created.text
    schools = []
    for brin, prefix in (("12AB", ""), ("34CD", "b-")):
        school = await reg.post("/api/schools", json=school_body(brin, postcode="3512 AB"))
        school_id, secret = school.json()["school"]["id"], bearer(school.json()["account_secret"])
        codes = [*ERASED, KEPT, *(f"klas-{i:02d}" for i in range(5, 13))] if not prefix else [f"b-{i:02d}" for i in range(12)]
        group = {
            "programme_id": programme,
            "pupil_count": 12,
            "ages": [13],
            "pupils": [{"pupil_ref": code, "age": 13, "parental_consent": True} for code in codes],
        }
        created = await reg.post(f"/api/schools/{school_id}/groups", json=group, headers=secret)
        assert created.status_code == 201, created.text
        schools.append((school_id, secret, created.json()["id"]))
    return programme, schools


async def _allocate(match, programme: str) -> None:
    async def run():
        r = await match.post(f"/api/programmes/{programme}/runs", json={"seed": 1}, headers=ADMIN)
        q = r.json().get("quality", {}) if r.status_code == 201 else {}
        return r.json() if q.get("placed_pupils", 0) + q.get("unplaced_pupils", 0) == 24 else None  # pupil counts (12 each)

    run_id = (await eventually(run, timeout=30))["run_id"]
    assert (await match.post(f"/api/runs/{run_id}/publish", headers=ADMIN)).status_code == 200


async def _tokens(surveys, programme: str, school_id: str, expect: int | None) -> dict[str, dict[str, str]] | None:
    link = (await surveys.get(f"/api/v1/admin/teacher-links/{programme}/{school_id}", headers=ADMIN)).json()["url"]
    found = (await surveys.get(f"/api/v1/teacher/{programme}/{school_id}", params={"key": link.split("key=")[1]})).json()
    pupils = {
        p["code"]: {phase: p[phase]["token"] for phase in ("pre", "post") if p.get(phase)} for g in found["groups"] for p in g["pupils"]
    }
    return pupils if expect is None or len(pupils) == expect else None


def _answers() -> dict:
    return {
        "self_efficacy_good_at_tech": 2,
        "self_efficacy_solve_problem": 3,
        "interest_tech": 3,
        "interest_jobs": 2,
        "intention_technical_study": "no",
    }


async def _purged(registration) -> bool:
    async with registration.sessions() as session:
        rows = (await session.execute(select(erasures.c.purged_at))).scalars().all()
    return len(rows) == 3 and all(rows)


async def _all_consumed(js, topology) -> bool:
    for config in topology.stream_configs():
        for info in await js.consumers_info(config.name):
            if info.num_pending or info.num_ack_pending:
                return False
    return True


async def _messages(js, stream: str) -> list:
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
        try:
            found.append(await js.get_msg(stream, seq))
        except NotFoundError:  # purged
            continue
    return found


async def _stream_text(js, stream: str) -> str:
    return "\n".join(f"{m.subject} {m.headers!r} {m.data.decode('utf-8', 'replace')}" for m in await _messages(js, stream))


async def _table_text(runtime) -> str:
    metadata = importlib.import_module(f"services.{runtime.name}.store").metadata
    out = []
    async with runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                out.append(f"{table.name}: {tuple(row)!r}")
        if runtime.engine.dialect.name == "postgresql":  # and anything the migrations made that the tables do not name
            names = (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars().all()
            assert set(names) - {t.name for t in metadata.sorted_tables} <= {"alembic_version"}
    return "\n".join(out)


def _file_bytes(url: str) -> bytes | None:
    """The SQLite database file and its -wal, as bytes (None on PostgreSQL)."""
    if not url.startswith("sqlite"):
        return None
    path = Path(url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def _record_text(record: logging.LogRecord) -> str:
    message = record.getMessage()
    extra = {k: v for k, v in vars(record).items() if k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__}
    return f"{record.name} {message} {extra!r} {record.exc_text or ''}"
