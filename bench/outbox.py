"""Outbox relay throughput (SQLite and PostgreSQL) and the walking skeleton's end-to-end latency.

    .venv/bin/python bench/outbox.py [--events 50000] [--flows 200]

Starts its own nats-server (never touches a NATS on 4222). PostgreSQL from BENCH_DATABASE_URL
(default postgresql://postgres@127.0.0.1:5432/test; a fresh database is created and dropped), skipped
when unreachable. Prints its figures; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import nats  # noqa: E402
from sqlalchemy import MetaData, insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from shared import db  # noqa: E402
from shared.contracts import SchoolRegistered  # noqa: E402
from shared.embedded import start_nats  # noqa: E402
from shared.envelope import make_event  # noqa: E402
from shared.outbox import Outbox, OutboxRelay, outbox_table  # noqa: E402
from shared.topology import Topology, declare_streams  # noqa: E402


async def relay_throughput(nats_url: str, database_url: str, events: int) -> float:
    metadata = MetaData()
    table = outbox_table(metadata)
    engine = db.create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = db.session_factory(engine)
    rows = []
    for i in range(events):
        data = SchoolRegistered(school_id=str(uuid.uuid4()), brin="12AB", name=f"School {i}", level="vo", postcode="3511 AB")
        event = make_event(data, source="/bench")
        rows.append({"event_id": event.id, "subject": data.nats_subject(), "payload": event.to_bytes(), "created_at": event.time})
    async with sessions() as session, session.begin():
        for start in range(0, events, 5000):
            await session.execute(insert(table), rows[start : start + 5000])
    topology = Topology(f"bench{uuid.uuid4().hex[:8]}")
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await declare_streams(js, topology)
    outbox = Outbox("registration", table)
    relay = OutboxRelay(outbox, sessions, connection, topology, batch_size=2000, skip_locked=not db.is_sqlite(database_url))
    started = time.perf_counter()
    published = 0
    while published < events:
        published += await relay.publish_batch()
    elapsed = time.perf_counter() - started
    info = await js.stream_info(topology.stream("REGISTRATION"))
    assert info.state.messages == events, (info.state.messages, events)
    for config in topology.stream_configs():
        await js.delete_stream(config.name)
    await connection.close()
    await engine.dispose()
    return events / elapsed


async def skeleton_latency(nats_url: str, tmp: Path, flows: int) -> tuple[float, float]:
    """POST a school at registration until reporting's summary counts it (both services in-process)."""
    from asgi_lifespan import LifespanManager

    from services.registration.app import build_app as registration_app
    from services.reporting.app import build_app as reporting_app
    from shared.settings import Settings

    settings = Settings(
        environment="development", nats_url=nats_url, namespace=f"bench{uuid.uuid4().hex[:8]}", data_dir=tmp / "var", _env_file=None
    )
    latencies = []
    async with (
        LifespanManager(registration_app(settings), startup_timeout=120) as reg,
        LifespanManager(reporting_app(settings), startup_timeout=120) as rep,
    ):
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(reg.app), base_url="http://r") as registration,
            httpx.AsyncClient(transport=httpx.ASGITransport(rep.app), base_url="http://p") as reporting,
        ):
            for i in range(flows):
                started = time.perf_counter()
                brin = f"{i % 100:02d}{chr(65 + i // 2600 % 26)}{chr(65 + i // 100 % 26)}"
                response = await registration.post("/api/schools", json=skeleton_school(brin, i))
                assert response.status_code == 201, response.text
                while (await reporting.get("/api/summary")).json()["schools"] < i + 1:
                    await asyncio.sleep(0.001)
                latencies.append(time.perf_counter() - started)
    latencies.sort()
    return statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.99) - 1] * 1000


def skeleton_school(brin: str, i: int) -> dict:
    return {
        "brin": brin,
        "name": f"School {i}",
        "level": "vo",
        "postcode": "3511 AB",
        "contact": {"name": "Teacher", "email": f"teacher{i}@school.nl"},
    }


async def postgres_database(admin_url: str) -> tuple[str, str] | None:
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(admin_url, timeout=3)
    except Exception:
        return None
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name, make_url(admin_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--flows", type=int, default=200)
    args = parser.parse_args()
    figures: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_nats(Path(tmp) / "nats")
        try:
            figures["relay_sqlite_events_per_s"] = round(
                await relay_throughput(server.url, f"sqlite+aiosqlite:///{tmp}/outbox.db", args.events)
            )
            print(f"relay, SQLite:      {figures['relay_sqlite_events_per_s']:>8,.0f} events/s ({args.events} events)")
            admin = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
            created = await postgres_database(admin)
            if created:
                name, url = created
                figures["relay_postgresql_events_per_s"] = round(await relay_throughput(server.url, url, args.events))
                print(f"relay, PostgreSQL:  {figures['relay_postgresql_events_per_s']:>8,.0f} events/s ({args.events} events)")
                import asyncpg

                conn = await asyncpg.connect(admin)
                await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                await conn.close()
            else:
                figures["relay_postgresql_events_per_s"] = None
                print("relay, PostgreSQL:  skipped (no PostgreSQL at BENCH_DATABASE_URL)")
            p50, p99 = await skeleton_latency(server.url, Path(tmp), args.flows)
            figures["skeleton_e2e_p50_ms"] = round(p50, 1)
            figures["skeleton_e2e_p99_ms"] = round(p99, 1)
            print(f"skeleton flow (POST school -> reporting summary): p50 {p50:.1f} ms, p99 {p99:.1f} ms ({args.flows} flows)")
        finally:
            server.stop()
    figures["target_relay_events_per_s"] = 20_000
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
