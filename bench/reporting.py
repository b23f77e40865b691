"""Reporting: live consumption and rebuild of a national edition, and end-to-end latency.

    .venv/bin/python bench/reporting.py [--events 100000] [--rate 200] [--writes 1000] [--database-url URL]

Starts its own nats-server and runs the services as subprocesses, on SQLite in a temporary
directory or, with --database-url (bench/databases.py), on fresh PostgreSQL databases:
1. publishes a synthetic national edition (registrations, allocation, surveys; >= --events events);
2. live: starts `python -m services.reporting` and times its durable consumers for --live-window
   seconds (or until they caught up: then rebuild == live rows is checked too);
3. rebuild: stops it and rebuilds every projection from the streams;
4. end to end, on a fresh platform (namespace and databases): starts registration and reporting,
   POSTs school registrations at --rate per second and times each until `GET /api/summary` counts
   it (p50/p99). A request that fails (an error status, or a connection the service dropped) is
   counted by kind, never fatal to the run, and fails the targets.
Prints its figures; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import nats  # noqa: E402

from bench import databases  # noqa: E402
from services.reporting import store  # noqa: E402
from services.reporting.handlers import SUBSCRIPTIONS, projections  # noqa: E402
from services.reporting.rebuild import rebuild  # noqa: E402
from shared import contracts as c  # noqa: E402
from shared import db  # noqa: E402
from shared.embedded import start_nats  # noqa: E402
from shared.envelope import CloudEvent  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.topology import Topology, declare_streams  # noqa: E402

PROVINCES = [
    "Groningen",
    "Fryslân",
    "Drenthe",
    "Overijssel",
    "Flevoland",
    "Gelderland",
    "Utrecht",
    "Noord-Holland",
    "Zuid-Holland",
    "Zeeland",
    "Noord-Brabant",
    "Limburg",
]
SECTORS = ["energie", "ict", "bouw", "zorg", "techniek", "logistiek", "water", "chemie"]


def national_edition(min_events: int, seed: int = 1) -> list[c.Contract]:
    """A synthetic national edition; scaled so that it holds at least `min_events` events."""
    rng = random.Random(seed)
    scale = max(1.0, min_events / 100_000)
    n_schools, n_companies = int(3000 * scale), int(1500 * scale)
    n_activities, n_groups = int(4000 * scale), int(12000 * scale)
    t0 = datetime(2026, 1, 12, 8, tzinfo=UTC)
    programme = "gd2026"
    out: list[c.Contract] = [
        c.ProgrammeOpened(
            programme_id=programme,
            kind="girls_day",
            name="Girls' Day 2026",
            event_date=date(2026, 4, 9),
            registration_opens=t0,
            registration_closes=t0 + timedelta(days=50),
            target_pupils=250_000,
            target_schools=3000,
            target_companies=1500,
            allocation_mode="groups",
            min_group_size=10,
            min_age=10,
            max_age=15,
        )
    ]
    schools = {f"s{i}": (rng.choice(PROVINCES), rng.choice(["po", "vo", "mbo"])) for i in range(n_schools)}
    for sid, (province, level) in schools.items():
        out.append(
            c.SchoolRegistered(school_id=sid, brin=f"{rng.randint(10, 99)}AB", name="S", level=level, postcode="3511 AB", province=province)
        )
    for i in range(n_companies):
        out.append(
            c.CompanyRegistered(
                company_id=f"c{i}",
                kvk=f"{10000000 + i}",
                name="C",
                sectors=[rng.choice(SECTORS)],
                postcode="3511 AB",
                province=rng.choice(PROVINCES),
            )
        )
    activities = []
    for i in range(n_activities):
        activities.append(f"a{i}")
        out.append(
            c.ActivityRegistered(
                activity_id=f"a{i}",
                company_id=f"c{rng.randrange(n_companies)}",
                programme_id=programme,
                title="A",
                sector=rng.choice(SECTORS),
                capacity=rng.randint(10, 60),
                postcode="3511 AB",
            )
        )
    groups = []
    for i in range(n_groups):
        gid, sid = f"g{i}", f"s{rng.randrange(n_schools)}"
        pupils = rng.randint(10, 30)
        groups.append((gid, sid, pupils))
        out.append(
            c.GroupRegistered(
                group_id=gid,
                school_id=sid,
                programme_id=programme,
                pupil_count=pupils,
                registered_at=t0 + timedelta(days=rng.randint(0, 49)),
            )
        )
    for gid, sid, pupils in rng.sample(groups, n_groups // 2):
        out.append(c.GroupUpdated(group_id=gid, school_id=sid, programme_id=programme, pupil_count=max(10, pupils - 2), revision=2))
    withdrawn = set()
    for gid, sid, _ in rng.sample(groups, n_groups // 25):
        withdrawn.add(gid)
        out.append(c.GroupWithdrawn(group_id=gid, school_id=sid, programme_id=programme, revision=3))
    placed = 0
    for gid, sid, pupils in groups:
        if gid in withdrawn:
            continue
        roll = rng.random()
        if roll < 0.85:
            parts = 2 if rng.random() < 0.1 else 1
            for part in range(parts):
                placed += 1
                out.append(
                    c.PlacementAssigned(
                        placement_id=f"p{gid}-{part}",
                        run_id="run1",
                        programme_id=programme,
                        group_id=gid,
                        school_id=sid,
                        activity_id=rng.choice(activities),
                        company_id="c0",
                        pupil_count=pupils // parts,
                        distance_km=round(rng.uniform(1, 40), 1),
                    )
                )
        elif roll < 0.95:
            out.append(c.GroupWaitlisted(programme_id=programme, group_id=gid, school_id=sid, pupil_count=pupils))
    out.append(
        c.RunCompleted(
            run_id="run1",
            programme_id=programme,
            mode="groups",
            seed=seed,
            placed_pupils=placed,
            unplaced_pupils=0,
            splits=0,
            placed_ratio=0.85,
            duration_s=1.0,
            inputs_digest="x",
        )
    )
    i = 0
    while len(out) < min_events - 10:
        phase = "pre" if i % 2 == 0 else "post"
        out.append(c.ResponseRecorded(response_id=f"r{i}", programme_id=programme, phase=phase, school_id=f"s{rng.randrange(n_schools)}"))
        i += 1
        if i % 10_000 == 0:
            out.append(
                c.ResultsUpdated(
                    programme_id=programme,
                    invited={"pre": i, "post": i},
                    responded={"pre": i // 2, "post": i // 2},
                    paired=i // 3,
                    effects={"interest": {"mean_pre": 2.8, "mean_post": 3.3}},
                )
            )
    while len(out) < min_events:
        out.append(
            c.ResultsUpdated(
                programme_id=programme,
                invited={"pre": i, "post": i},
                responded={"pre": i // 2, "post": i // 2},
                paired=i // 3,
                effects={"interest": {"mean_pre": 2.8, "mean_post": 3.4}},
            )
        )
    return out


async def publish_all(nc, topology: Topology, events: list[c.Contract]) -> float:
    js = nc.jetstream()
    started = time.perf_counter()
    t = datetime.now(UTC)
    pending = []
    for i, data in enumerate(events):
        event = CloudEvent(
            id=str(uuid.uuid4()), source="/bench", type=data.TYPE, time=t + timedelta(microseconds=i), data=data.model_dump(mode="json")
        )
        subject = data.nats_subject()
        pending.append(
            js.publish(
                topology.subject(subject), event.to_bytes(), stream=topology.stream_for_subject(subject), headers={"Nats-Msg-Id": event.id}
            )
        )
        if len(pending) >= 500:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(name: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / f"{name}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", f"services.{name}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


async def acked(js, topology: Topology) -> tuple[int, int]:
    done = total = 0
    for stream in SUBSCRIPTIONS:
        name = topology.stream_of_service(stream)
        total += (await js.stream_info(name)).state.messages
        try:
            info = await js.consumer_info(name, projections.durable("reporting", stream))
            done += info.ack_floor.stream_seq
        except Exception:
            pass
    return done, total


async def live_consumption(js, topology, env, log_dir, window: float) -> dict:
    """Events/s the live consumers manage, over `window` seconds (or until they caught up)."""
    process = start_service("reporting", env, log_dir)
    try:
        t0 = n0 = None
        while True:
            done, total = await acked(js, topology)
            now = time.perf_counter()
            if t0 is None and done > 0:
                t0, n0 = now, done
            if done >= total or (t0 is not None and now - t0 >= window):
                break
            if process.poll() is not None:
                raise RuntimeError("reporting exited; see its log")
            await asyncio.sleep(0.1)
        seconds = now - t0
        return {"events": done - n0, "seconds": round(seconds, 2), "events_per_s": round((done - n0) / seconds), "caught_up": done >= total}
    finally:
        stop(process)


async def snapshot(settings: Settings) -> dict:
    engine = db.create_engine(settings.database_url("reporting"))
    try:
        async with db.session_factory(engine)() as session:
            return await store.load_states(session)
    finally:
        await engine.dispose()


async def end_to_end(env, log_dir, rate: float, writes: int) -> dict:
    registration, reporting = start_service("registration", env, log_dir), start_service("reporting", env, log_dir)
    reg_url = f"http://127.0.0.1:{env['GIRLSDAY_REGISTRATION_PORT']}"
    rep_url = f"http://127.0.0.1:{env['GIRLSDAY_REPORTING_PORT']}"
    try:
        await wait_healthy(reg_url)
        await wait_healthy(rep_url)
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:
            base = (await client.get(f"{rep_url}/api/summary")).json()["schools"]
            sent: list[float] = []
            seen: dict[int, float] = {}
            failures = 0
            errors: dict[str, int] = {}
            finished = asyncio.Event()

            async def write(i: int) -> None:
                nonlocal failures
                body = {
                    "brin": f"{i // 676 % 90 + 10}{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}",
                    "name": f"Bench {i}",
                    "level": "vo",
                    "postcode": "3511 AB",
                    "contact": {"name": "Bench", "email": f"bench{i}@example.org"},
                }
                try:
                    response = await client.post(f"{reg_url}/api/schools", json=body)
                except httpx.HTTPError as exc:  # e.g. the service dropped the connection (ReadError)
                    failures += 1
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    return
                if response.status_code != 201:
                    failures += 1
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1

            async def poll() -> None:
                while not finished.is_set():
                    count = (await client.get(f"{rep_url}/api/summary")).json()["schools"] - base
                    now = time.perf_counter()
                    for k in range(len(seen) + 1, count + 1):
                        seen[k] = now
                    await asyncio.sleep(0.01)  # 10 ms resolution; faster polling loads the service under test

            poller = asyncio.create_task(poll())
            tasks = []
            started = time.perf_counter()
            for i in range(writes):
                target = started + i / rate
                await asyncio.sleep(max(0.0, target - time.perf_counter()))
                sent.append(time.perf_counter())
                tasks.append(asyncio.create_task(write(i)))
            await asyncio.gather(*tasks)
            deadline = time.perf_counter() + 30
            while len(seen) < writes - failures and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            finished.set()
            await poller
        latencies = sorted((seen[k + 1] - sent[k]) * 1000 for k in range(min(len(seen), len(sent))))
        achieved = writes / (sent[-1] - sent[0]) if len(sent) > 1 else 0

        def pct(p: float) -> float:
            return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else float("nan")

        return {
            "writes": writes,
            "failed": failures,
            "errors": errors,
            "rate_per_s": round(achieved),
            "reflected": len(seen),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(latencies[-1], 1) if latencies else None,
        }
    finally:
        stop(registration)
        stop(reporting)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--live-window", type=float, default=90, help="seconds of live consumption to time")
    parser.add_argument("--skip-e2e", action="store_true")
    databases.add_argument(parser)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-reporting-"))
    server = start_nats(tmp / "nats")
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GIRLSDAY_")}
    env = {
        **base_env,
        "GIRLSDAY_NATS_URL": server.url,
        "GIRLSDAY_NAMESPACE": namespace,
        "GIRLSDAY_DATA_DIR": str(tmp / "var"),
        "GIRLSDAY_LOG_LEVEL": "WARNING",
        "GIRLSDAY_ENVIRONMENT": "development",  # the default secrets of a local run
        "GIRLSDAY_REPORTING_PORT": str(free_port()),
        "GIRLSDAY_REGISTRATION_PORT": str(free_port()),
        "GIRLSDAY_REPORTING_KPI_INTERVAL_S": "10",
    }
    topology = Topology(namespace)
    figures: dict = {"database": databases.kind(args.database_url)}
    print(f"database: {figures['database']}; service logs in {tmp}", flush=True)
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await declare_streams(js, topology)
        events = national_edition(args.events)
        seconds = await publish_all(nc, topology, events)
        print(f"published {len(events):,} events in {seconds:.1f}s ({len(events) / seconds:,.0f}/s)", flush=True)
        figures["events"] = len(events)

        async with databases.fresh_databases(args.database_url, ["reporting"], tmp) as urls:
            env["GIRLSDAY_REPORTING_DATABASE_URL"] = urls["reporting"]
            settings = Settings(
                nats_url=server.url, namespace=namespace, data_dir=tmp / "var", reporting_database_url=urls["reporting"], _env_file=None
            )
            figures["live"] = (
                await live_consumption(js, topology, env, tmp, args.live_window)
                if args.live_window > 0
                else {"events": 0, "seconds": 0, "events_per_s": 0, "caught_up": False}
            )
            print(
                f"live consumption: {figures['live']['events_per_s']:,} events/s "
                f"({figures['live']['events']:,} events in {figures['live']['seconds']}s)",
                flush=True,
            )

            live_rows = await snapshot(settings) if figures["live"]["caught_up"] else None
            result = await rebuild(settings)
            rebuilt_rows = await snapshot(settings) if live_rows is not None else None
        figures["rebuild"] = {
            "events": result.events,
            "seconds": round(result.seconds, 2),
            "events_per_s": round(result.events_per_second),
            "streams_read_after_s": round(result.read_seconds, 2),
            "rows": result.rows,
            "equals_live": None if live_rows is None else rebuilt_rows == live_rows,
        }
        print(
            f"rebuild: {figures['rebuild']['events_per_s']:,} events/s ({result.events:,} events in "
            f"{result.seconds:.2f}s; all streams read after {result.read_seconds:.2f}s); "
            f"rebuild == live: {figures['rebuild']['equals_live']}",
            flush=True,
        )

        if not args.skip_e2e:  # a fresh platform (namespace, databases): the live phase may still have a backlog
            async with databases.fresh_databases(args.database_url, ["registration", "reporting"], tmp) as urls:
                e2e_env = {
                    **env,
                    "GIRLSDAY_NAMESPACE": f"{namespace}e2e",
                    "GIRLSDAY_DATA_DIR": str(tmp / "var-e2e"),
                    "GIRLSDAY_REGISTRATION_DATABASE_URL": urls["registration"],
                    "GIRLSDAY_REPORTING_DATABASE_URL": urls["reporting"],
                }
                await declare_streams(js, Topology(f"{namespace}e2e"))
                figures["end_to_end"] = await end_to_end(e2e_env, tmp, args.rate, args.writes)
            e2e = figures["end_to_end"]
            print(
                f"end to end (registration POST -> reporting /api/summary): p50 {e2e['p50_ms']} ms, "
                f"p99 {e2e['p99_ms']} ms at {e2e['rate_per_s']} writes/s ({e2e['failed']} failed: {e2e['errors'] or 'none'})",
                flush=True,
            )
        await nc.close()
    finally:
        server.stop()
    e2e = figures.get("end_to_end", {})
    figures["targets_met"] = {
        "rebuild_20k_events_per_s": figures["rebuild"]["events_per_s"] >= 20_000,
        "e2e_p99_under_250ms": e2e.get("p99_ms", 1e9) < 250,
        "e2e_200_writes_per_s": e2e.get("rate_per_s", 0) >= 0.95 * args.rate,
        "e2e_no_failed_request": e2e.get("failed", 1) == 0 and e2e.get("reflected") == e2e.get("writes"),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
