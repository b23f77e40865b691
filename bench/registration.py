"""Registration opening day: a realistic write mix against the running service, versus a trivial endpoint.

    .venv/bin/python bench/registration.py [--clients 50] [--database-url postgresql+asyncpg://...]

Starts its own nats-server and `python -m services.registration` (SQLite in a temporary directory
unless --database-url is given), then with `--clients` concurrent HTTP clients:
1. trivial: GET /api/ping (same app, same process) -> req/s, p50, p99, half of the requests before
   and half after the opening day (the machine's load drifts; both halves bracket the writes);
2. opening day: 300 schools + 300 companies register, then 600 activities and 1,000 groups
   (a third naming activities as preferences) interleaved with 800 reads; every write carries an
   Idempotency-Key -> write req/s, p50, p99 (and the reads' figures).
Then it checks that each accepted write's event reached the REGISTRATION stream exactly once.
Prints its figures; the last line is one JSON object. Target: write req/s >= 0.40 x trivial,
write p99 < 100 ms, zero errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nats  # noqa: E402

from bench.load import Recorder, cpu_seconds, free_port, pct, run, run_pool, session, wait_healthy  # noqa: E402
from shared.embedded import start_nats  # noqa: E402
from shared.topology import Topology  # noqa: E402

TOKEN = "bench-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
SECTORS = ["ict", "engineering", "energy", "construction", "science", "manufacturing", "mobility", "water"]
POSTCODES = ["1011 AB", "3511 AB", "5612 AB", "9711 AB", "2511 AB", "6811 AB", "8011 AB", "7511 AB", "4811 AB", "6211 AB"]


async def trivial_phase(client, rec: Recorder, clients: int, requests: int) -> float:
    return await run_pool([lambda: rec.call(client, "trivial", "GET", "/api/ping") for _ in range(requests)], clients)


async def opening_day(
    client,
    rec: Recorder,
    clients: int,
    programme_id: str,
    n_schools: int,
    n_companies: int,
    n_activities: int,
    n_groups: int,
    n_reads: int,
    accepted: dict,
) -> tuple[float, int]:
    rnd = random.Random(7)
    schools: list[tuple[str, dict]] = []
    companies: list[tuple[str, dict]] = []
    activities: list[str] = []

    def key() -> dict:
        return {"Idempotency-Key": uuid.uuid4().hex}

    async def school(i):
        body = {
            "brin": f"{i // 26 // 26 % 100:02d}{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}",
            "name": f"School {i}",
            "level": rnd.choice(["po", "vo"]),
            "postcode": rnd.choice(POSTCODES),
            "contact": {"name": f"Docent {i}", "email": f"docent{i}@school{i}.nl"},
        }
        if r := await rec.call(client, "write", "POST", "/api/schools", json=body, headers=key()):
            data = r.json()
            schools.append((data["school"]["id"], {"Authorization": f"Bearer {data['account_secret']}"}))
            accepted["school.registered"].add(data["school"]["id"])

    async def company(i):
        body = {
            "kvk": f"{40000000 + i}",
            "name": f"Bedrijf {i}",
            "sectors": rnd.sample(SECTORS, 2),
            "postcode": rnd.choice(POSTCODES),
            "contact": {"name": f"Contact {i}", "email": f"hr@bedrijf{i}.nl"},
        }
        if r := await rec.call(client, "write", "POST", "/api/companies", json=body, headers=key()):
            data = r.json()
            companies.append((data["company"]["id"], {"Authorization": f"Bearer {data['account_secret']}"}))
            accepted["company.registered"].add(data["company"]["id"])

    async def activity(i):
        company_id, auth = companies[i % len(companies)]
        body = {
            "programme_id": programme_id,
            "title": f"Activiteit {i}",
            "sector": rnd.choice(SECTORS),
            "capacity": rnd.randint(10, 40),
            "levels": ["po", "vo"],
            "min_age": 10,
            "max_age": 15,
            "starts_at": "09:30",
            "ends_at": "12:30",
            "postcode": rnd.choice(POSTCODES),
        }
        if r := await rec.call(client, "write", "POST", f"/api/companies/{company_id}/activities", json=body, headers={**auth, **key()}):
            activities.append(r.json()["id"])
            accepted["activity.registered"].add(r.json()["id"])

    async def group(i):
        school_id, auth = schools[i % len(schools)]
        prefs = rnd.sample(activities, 3) if activities and i % 3 == 0 else []
        body = {
            "programme_id": programme_id,
            "pupil_count": rnd.randint(10, 30),
            "ages": [12, 13],
            "preferred_sectors": rnd.sample(SECTORS, 2),
            "preferred_activities": prefs,
            "max_travel_km": 40,
            "split": {"may_split": True, "max_parts": 2, "min_part_size": 5},
            "pupils": [{"pupil_ref": f"p{i}-{k}", "age": 12, "parental_consent": k % 2 == 0} for k in range(5)],
        }
        if r := await rec.call(client, "write", "POST", f"/api/schools/{school_id}/groups", json=body, headers={**auth, **key()}):
            accepted["group.registered"].add(r.json()["id"])

    async def read(i):
        if i % 2 == 0:
            await rec.call(client, "read", "GET", f"/api/programmes/{programme_id}/activities")
        else:
            school_id, auth = schools[i % len(schools)]
            await rec.call(client, "read", "GET", f"/api/schools/{school_id}/groups", headers=auth)

    def bind(fn, i):
        return lambda: fn(i)

    accounts = [bind(school, i) for i in range(n_schools)] + [bind(company, i) for i in range(n_companies)]
    rnd.shuffle(accounts)
    t1 = await run_pool(accounts, clients)
    # activities first in the queue, so the groups that name preferences find some on offer
    mix = [bind(group, i) for i in range(n_groups)] + [bind(read, i) for i in range(n_reads)]
    rnd.shuffle(mix)
    mix = [bind(activity, i) for i in range(n_activities // 2)] + mix
    extra = [bind(activity, i) for i in range(n_activities // 2, n_activities)]
    for k, job in enumerate(extra):
        mix.insert(len(mix) * (k + 1) // (len(extra) + 1), job)
    t2 = await run_pool(mix, clients)
    return t1 + t2, n_schools + n_companies + n_activities + n_groups


async def check_stream(nats_url: str, topology: Topology, accepted: dict, timeout: float = 60) -> dict:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = topology.stream_of_service("registration")
    expected = sum(len(v) for v in accepted.values()) + 1  # + programme.opened
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while (info := await js.stream_info(stream)).state.messages < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    drained_s = time.monotonic() - started
    seen: Counter = Counter()
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        event = json.loads((await js.get_msg(stream, seq)).data)
        kind = ".".join(event["type"].split(".")[-3:-1])
        ident = next((v for k, v in event["data"].items() if k.endswith("_id") and k.split("_")[0] in kind), None)
        seen[(kind, ident)] += 1
    await nc.close()
    missing = sum(1 for kind, ids in accepted.items() for i in ids if seen[(kind, i)] == 0)
    duplicated = sum(1 for n in seen.values() if n > 1)
    unexpected = sum(1 for (kind, i) in seen if kind in accepted and i not in accepted[kind])
    return {
        "stream_messages": info.state.messages,
        "expected_events": expected,
        "missing": missing,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "exactly_once": missing == 0 and duplicated == 0 and unexpected == 0,
        "outbox_drain_s": round(drained_s, 2),
    }


async def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--trivial-requests", type=int, default=4000)
    parser.add_argument("--schools", type=int, default=300)
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--activities", type=int, default=600)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=800)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_REGISTRATION_DATABASE_URL"))
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-registration-"))
    server = start_nats(tmp / "nats")
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **os.environ,
        "GIRLSDAY_ENVIRONMENT": "development",
        "GIRLSDAY_NATS_URL": server.url,
        "GIRLSDAY_NAMESPACE": namespace,
        "GIRLSDAY_DATA_DIR": str(tmp / "var"),
        "GIRLSDAY_REGISTRATION_PORT": str(port),
        "GIRLSDAY_ADMIN_TOKEN": TOKEN,
        "GIRLSDAY_LOG_LEVEL": "WARNING",
    }
    if args.database_url:
        env["GIRLSDAY_REGISTRATION_DATABASE_URL"] = args.database_url
    service = subprocess.Popen(
        [sys.executable, "-m", "services.registration"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "service.log", "w")
    )
    base = f"http://127.0.0.1:{port}"
    # Keep-alive, one connection per client; idle connections are dropped before uvicorn's 5 s
    # keep-alive timeout, so a request never races the server closing its connection (ReadError).
    try:
        await wait_healthy(base, service, tmp / "service.log", seconds=30)
        async with session(base, args.clients) as client:
            now = datetime.now(UTC)
            r = await Recorder().call(
                client,
                "setup",
                "POST",
                "/api/programmes",
                headers=ADMIN,
                json={
                    "kind": "girls_day",
                    "name": "Girls' Day bench",
                    "event_date": (now + timedelta(days=60)).date().isoformat(),
                    "opens_at": (now - timedelta(hours=1)).isoformat(),
                    "closes_at": (now + timedelta(days=30)).isoformat(),
                },
            )
            programme_id = r.json()["id"]
            await Recorder().call(client, "setup", "POST", f"/api/programmes/{programme_id}/open", headers=ADMIN)
            await trivial_phase(client, Recorder(), args.clients, 500)  # warm-up

            trivial = Recorder()
            cpu = cpu_seconds(service.pid)
            t_trivial = await trivial_phase(client, trivial, args.clients, args.trivial_requests // 2)
            cpu_trivial = cpu_seconds(service.pid) - cpu
            mix = Recorder()
            accepted = {k: set() for k in ("school.registered", "company.registered", "activity.registered", "group.registered")}
            cpu = cpu_seconds(service.pid)
            t_mix, writes = await opening_day(
                client, mix, args.clients, programme_id, args.schools, args.companies, args.activities, args.groups, args.reads, accepted
            )
            cpu_mix = cpu_seconds(service.pid) - cpu
            cpu = cpu_seconds(service.pid)
            t_trivial += await trivial_phase(client, trivial, args.clients, args.trivial_requests - args.trivial_requests // 2)
            cpu_trivial += cpu_seconds(service.pid) - cpu
        stream = await check_stream(server.url, Topology(namespace), accepted)
    finally:
        service.terminate()
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    trivial_rps = len(trivial.latencies["trivial"]) / t_trivial
    write_rps = len(mix.latencies["write"]) / t_mix
    result = {
        "database": "postgresql" if args.database_url else "sqlite",
        "clients": args.clients,
        "trivial": {
            "requests": len(trivial.latencies["trivial"]),
            "rps": round(trivial_rps, 1),
            "p50_ms": round(pct(trivial.latencies["trivial"], 50) * 1000, 2),
            "p99_ms": round(pct(trivial.latencies["trivial"], 99) * 1000, 2),
        },
        "writes": {
            "requests": len(mix.latencies["write"]),
            "rps": round(write_rps, 1),
            "p50_ms": round(pct(mix.latencies["write"], 50) * 1000, 2),
            "p99_ms": round(pct(mix.latencies["write"], 99) * 1000, 2),
        },
        "reads": {
            "requests": len(mix.latencies["read"]),
            "p50_ms": round(pct(mix.latencies["read"], 50) * 1000, 2),
            "p99_ms": round(pct(mix.latencies["read"], 99) * 1000, 2),
        },
        "service_cpu_ms": {
            "per_trivial": round(1000 * cpu_trivial / max(1, len(trivial.latencies["trivial"])), 3),
            "per_mix_request": round(1000 * cpu_mix / max(1, len(mix.latencies["write"]) + len(mix.latencies["read"])), 3),
        },
        "mix_seconds": round(t_mix, 2),
        "write_to_trivial_ratio": round(write_rps / trivial_rps, 3),
        "errors": sum(trivial.errors.values()) + sum(mix.errors.values()),
        "error_kinds": dict(trivial.errors + mix.errors),
        "error_samples": mix.samples[:3],
        **stream,
    }
    result["targets_met"] = (
        result["write_to_trivial_ratio"] >= 0.40 and result["writes"]["p99_ms"] < 100 and result["errors"] == 0 and result["exactly_once"]
    )
    return result


if __name__ == "__main__":
    result = run(main())
    t, w, rd = result["trivial"], result["writes"], result["reads"]
    print(f"database: {result['database']}, {result['clients']} concurrent clients")
    print(
        f"trivial GET /api/ping : {t['rps']:8.1f} req/s  p50 {t['p50_ms']:6.1f} ms  p99 {t['p99_ms']:6.1f} ms  ({t['requests']} requests)"
    )
    print(f"opening-day writes    : {w['rps']:8.1f} req/s  p50 {w['p50_ms']:6.1f} ms  p99 {w['p99_ms']:6.1f} ms  ({w['requests']} writes)")
    print(f"opening-day reads     :                p50 {rd['p50_ms']:6.1f} ms  p99 {rd['p99_ms']:6.1f} ms  ({rd['requests']} reads)")
    print(
        f"service CPU per request: trivial {result['service_cpu_ms']['per_trivial']} ms, "
        f"opening-day mix {result['service_cpu_ms']['per_mix_request']} ms (writes and reads)"
    )
    print(
        f"write/trivial ratio {result['write_to_trivial_ratio']:.2f} (target >= 0.40); errors {result['errors']}; "
        f"events exactly once: {result['exactly_once']} ({result['stream_messages']} in stream, {result['expected_events']} expected, "
        f"outbox drained {result['outbox_drain_s']} s after the last write)"
    )
    print(json.dumps(result))
