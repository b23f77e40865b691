"""A scripted edition through the four real services' public APIs, and how the privacy tests
look at the platform afterwards (every table, database file and stream)."""

from __future__ import annotations

import contextlib
import importlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nats.js.errors import NotFoundError
from sqlalchemy import select, text

from tests.conftest import ADMIN, running
from tests.helpers import eventually
from tests.integration.registration.conftest import activity_body, bearer, company_body, school_body


@contextlib.asynccontextmanager
async def service(settings, name: str):
    app = importlib.import_module(f"services.{name}.app").build_app(settings)
    async with running(app) as client:
        yield client, app.state.runtime


async def register(reg, first_codes: list[str], event_in_days: int = 20) -> tuple[str, list[tuple[str, dict, str]]]:
    """A programme, a company with two activities, two schools with a group of 12 each (the first
    with these codes); (programme id, [(school id, its bearer header, group id)])."""
    now = datetime.now(UTC)
    body = {
        "kind": "girls_day",
        "name": "Girls' Day scan",
        "event_date": (now + timedelta(days=event_in_days)).date().isoformat(),
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
        codes = (
            first_codes + [f"klas-{i:02d}" for i in range(len(first_codes), 12)] if not prefix else [f"tweede-{i:02d}" for i in range(12)]
        )
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


async def allocate(match, programme: str) -> None:
    async def run():
        r = await match.post(f"/api/programmes/{programme}/runs", json={"seed": 1}, headers=ADMIN)
        q = r.json().get("quality", {}) if r.status_code == 201 else {}
        return r.json() if q.get("placed_pupils", 0) + q.get("unplaced_pupils", 0) == 24 else None  # pupil counts (12 each)

    run_id = (await eventually(run, timeout=30))["run_id"]
    assert (await match.post(f"/api/runs/{run_id}/publish", headers=ADMIN)).status_code == 200


async def teacher_tokens(surveys, programme: str, school_id: str, expect: int | None) -> dict[str, dict[str, str]] | None:
    link = (await surveys.get(f"/api/v1/admin/teacher-links/{programme}/{school_id}", headers=ADMIN)).json()["url"]
    found = (await surveys.get(f"/api/v1/teacher/{programme}/{school_id}", params={"key": link.split("key=")[1]})).json()
    pupils = {
        p["code"]: {phase: p[phase]["token"] for phase in ("pre", "post") if p.get(phase)} for g in found["groups"] for p in g["pupils"]
    }
    return pupils if expect is None or len(pupils) == expect else None


def answers() -> dict:
    return {
        "self_efficacy_good_at_tech": 2,
        "self_efficacy_solve_problem": 3,
        "interest_tech": 3,
        "interest_jobs": 2,
        "intention_technical_study": "no",
    }


async def all_consumed(js, topology) -> bool:
    for config in topology.stream_configs():
        for info in await js.consumers_info(config.name):
            if info.num_pending or info.num_ack_pending:
                return False
    return True


async def messages(js, stream: str) -> list:
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
        try:
            found.append(await js.get_msg(stream, seq))
        except NotFoundError:  # purged
            continue
    return found


async def stream_text(js, stream: str) -> str:
    return "\n".join(f"{m.subject} {m.headers!r} {m.data.decode('utf-8', 'replace')}" for m in await messages(js, stream))


async def table_text(runtime) -> str:
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


def file_bytes(url: str) -> bytes | None:
    """The SQLite database file and its -wal, as bytes (None on PostgreSQL)."""
    if not url.startswith("sqlite"):
        return None
    path = Path(url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
