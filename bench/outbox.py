"""Outbox relay throughput and the walking skeleton's end-to-end latency.

    .venv/bin/python bench/outbox.py [--events 50000] [--flows 200]

    .venv/bin/python bench/outbox.py --database-url postgresql://postgres@127.0.0.1:5432/test

Starts its own nats-server (never touches a NATS on 4222). SQLite in a temporary directory, or fresh
PostgreSQL databases with --database-url (bench/databases.py). Prints its figures; the last line is
one JSON object naming the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from bench import databases  # noqa: E402
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


async def skeleton_latency(nats_url: str, tmp: Path, urls: dict[str, str], flows: int) -> tuple[float, float]:
    """POST a school at registration until reporting's summary counts it (both services in-process)."""
    from asgi_lifespan import LifespanManager

    from services.registration.app import build_app as registration_app
    from services.reporting.app import build_app as reporting_app
    from shared.settings import Settings

    settings = Settings(
        environment="development",
        nats_url=nats_url,
        namespace=f"bench{uuid.uuid4().hex[:8]}",
        data_dir=tmp / "var",
        registration_database_url=urls["registration"],
        reporting_database_url=urls["reporting"],
        _env_file=None,
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--flows", type=int, default=200)
    databases.add_argument(parser)
    args = parser.parse_args()
    figures: dict[str, float | str | None] = {"database": databases.kind(args.database_url)}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_nats(Path(tmp) / "nats")
        try:
            async with databases.fresh_databases(args.database_url, ["outbox"], Path(tmp)) as urls:
                figures["relay_events_per_s"] = round(await relay_throughput(server.url, urls["outbox"], args.events))
            print(f"relay ({figures['database']}): {figures['relay_events_per_s']:>8,.0f} events/s ({args.events} events)")
            async with databases.fresh_databases(args.database_url, ["registration", "reporting"], Path(tmp)) as urls:
                p50, p99 = await skeleton_latency(server.url, Path(tmp), urls, args.flows)
            figures["skeleton_e2e_p50_ms"] = round(p50, 1)
            figures["skeleton_e2e_p99_ms"] = round(p99, 1)
            print(f"skeleton flow (POST school -> reporting summary): p50 {p50:.1f} ms, p99 {p99:.1f} ms ({args.flows} flows)")
        finally:
            server.stop()
    figures["target_relay_events_per_s"] = 20_000
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
