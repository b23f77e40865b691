"""Helpers for the registration service's integration tests: a running service on a real NATS."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from nats.js.errors import NotFoundError
from sqlalchemy.engine import make_url

from shared.problems import code
from shared.settings import SERVICES, Settings

ADMIN = {"Authorization": "Bearer test-admin-token"}


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def school_body(brin: str = "12AB", **kw) -> dict:
    return {
        "brin": brin,
        "name": "Het Baken",
        "level": "vo",
        "postcode": "3511 AB",
        "contact": {"name": "J. de Vries", "email": "j.devries@hetbaken.nl", "phone": "030 123 4567"},
        **kw,
    }


def company_body(kvk: str = "12345678", **kw) -> dict:
    return {
        "kvk": kvk,
        "name": "TechWerk BV",
        "sectors": ["engineering", "energy"],
        "postcode": "5612 AB",
        "contact": {"name": "A. Jansen", "email": "a.jansen@techwerk.nl"},
        **kw,
    }


def activity_body(programme_id: str, **kw) -> dict:
    return {
        "programme_id": programme_id,
        "title": "Bouw je eigen robot",
        "sector": "engineering",
        "capacity": 24,
        "levels": ["po", "vo"],
        "min_age": 10,
        "max_age": 14,
        "starts_at": "09:30",
        "ends_at": "12:30",
        "postcode": "5612 AB",
        **kw,
    }


def group_body(programme_id: str, **kw) -> dict:
    return {
        "programme_id": programme_id,
        "pupil_count": 12,
        "ages": [12, 13],
        "teacher_name": "Mw. Bakker",
        "preferred_sectors": ["ict"],
        "max_travel_km": 30,
        **kw,
    }


def group_replacement(programme_id: str, **kw) -> dict:
    """A whole group for PUT (every field named)."""
    body = {
        "grades": [],
        "ages": [],
        "teacher_name": "",
        "preferred_sectors": [],
        "preferred_activities": [],
        "max_travel_km": None,
        "split": {"may_split": False},
        "pupils": [],
        **group_body(programme_id),
        **kw,
    }
    return {k: v for k, v in body.items() if k != "programme_id"}


def activity_replacement(programme_id: str, **kw) -> dict:
    """A whole activity for PUT (every field named)."""
    body = {
        "description": "",
        "address": "",
        "wheelchair_accessible": False,
        "accessibility_notes": "",
        "format": None,
        "audience": [],
        **activity_body(programme_id),
        **kw,
    }
    return {k: v for k, v in body.items() if k != "programme_id"}


class Api:
    """A registration client with shortcuts for the usual setup steps."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    async def programme(self, *, kind: str = "girls_day", open_: bool = True, deadline_in: timedelta = timedelta(days=30), **kw) -> dict:
        now = datetime.now(UTC)
        closes = now + deadline_in
        body = {
            "kind": kind,
            "name": f"Programme {uuid.uuid4().hex[:6]}",
            "event_date": (closes + timedelta(days=7)).date().isoformat(),
            "opens_at": (min(now, closes) - timedelta(days=10)).isoformat(),
            "closes_at": closes.isoformat(),
            **kw,
        }
        r = await self.client.post("/api/programmes", json=body, headers=ADMIN)
        assert r.status_code == 201, r.text
        if open_:
            r = await self.client.post(f"/api/programmes/{r.json()['id']}/open", headers=ADMIN)
            assert r.status_code == 200, r.text
        return r.json()

    async def school(self, brin: str = "12AB", **kw) -> tuple[str, dict]:
        r = await self.client.post("/api/schools", json=school_body(brin, **kw))
        assert r.status_code == 201, r.text
        return r.json()["school"]["id"], bearer(r.json()["account_secret"])

    async def company(self, kvk: str = "12345678", **kw) -> tuple[str, dict]:
        r = await self.client.post("/api/companies", json=company_body(kvk, **kw))
        assert r.status_code == 201, r.text
        return r.json()["company"]["id"], bearer(r.json()["account_secret"])

    async def activity(self, company: tuple[str, dict], programme_id: str, **kw) -> dict:
        r = await self.client.post(f"/api/companies/{company[0]}/activities", json=activity_body(programme_id, **kw), headers=company[1])
        assert r.status_code == 201, r.text
        return r.json()

    async def group(self, school: tuple[str, dict], programme_id: str, **kw) -> dict:
        r = await self.client.post(f"/api/schools/{school[0]}/groups", json=group_body(programme_id, **kw), headers=school[1])
        assert r.status_code == 201, r.text
        return r.json()


def _tables() -> str:
    from services.registration.store import metadata

    return ", ".join(table.name for table in metadata.sorted_tables)  # every table of the service, new ones too


TABLES = _tables()


def _run(coro):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def registration_pg(postgres_admin_url):
    """On PostgreSQL one registration database for the whole session, emptied before each test:
    CREATE/DROP DATABASE for four services per test cost seconds each on a loaded machine."""
    if postgres_admin_url is None:
        yield None
        return
    import asyncpg

    admin = make_url(postgres_admin_url)
    name = f"t_reg_{uuid.uuid4().hex[:10]}"
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)

    async def sql(statement):
        conn = await asyncpg.connect(plain)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    _run(sql(f'CREATE DATABASE "{name}"'))
    yield admin.set(database=name).render_as_string(hide_password=False)
    _run(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        if await conn.fetchval("SELECT to_regclass('public.programmes')"):
            await conn.execute(f"TRUNCATE {TABLES} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def settings(nats_url, namespace, tmp_path, registration_pg) -> Settings:
    """Like the harness's `settings`, but only the registration database is real here (the other
    services are not started by these tests) and on PostgreSQL it is reused, emptied first."""
    urls = {f"{service}_database_url": f"sqlite+aiosqlite:///{tmp_path / f'{service}.db'}" for service in SERVICES}
    if registration_pg:
        await _empty(registration_pg)
        urls["registration_database_url"] = registration_pg
    return Settings(
        nats_url=nats_url,
        namespace=namespace,
        environment="development",
        data_dir=tmp_path / "var",
        admin_token="test-admin-token",
        max_deliver=3,
        _env_file=None,
        **urls,
    )


@pytest.fixture
async def api(start_service):
    async with start_service("registration") as client:
        yield Api(client)


async def stream_events(js, topology) -> list[dict]:
    """Every event in this test's REGISTRATION stream, in order, as decoded CloudEvents."""
    stream = topology.stream_of_service("registration")
    info = await js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
        try:
            msg = await js.get_msg(stream, seq)
        except NotFoundError:  # purged (an erased pupil's codes)
            continue
        out.append(json.loads(msg.data) | {"_subject": msg.subject, "_msg_id": (msg.headers or {}).get("Nats-Msg-Id")})
    return out


def rules(response) -> set[tuple[str, str]]:
    """(field path, rule) of every broken rule in a 422 answer (problem details, RFC 9457)."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    return {(e["field"], e["rule"]) for e in response.json()["errors"]}


def problem(response) -> str | None:
    """The problem type's short name (`duplicate_school`) of an error answer."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = response.json()
    assert body["status"] == response.status_code and body["title"]
    return code(body)


__all__ = [
    "ADMIN",
    "bearer",
    "school_body",
    "company_body",
    "activity_body",
    "group_body",
    "group_replacement",
    "activity_replacement",
    "stream_events",
    "rules",
    "problem",
]
