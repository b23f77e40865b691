"""Surveys under load: 9,500 pupils answer pre and post from about 50 concurrent clients.

    .venv/bin/python bench/surveys.py [--pupils 9500] [--clients 50] [--database-url URL [--replicas N]] [--profile FILE]

Starts its own nats-server and the surveys service as a separate process (uvicorn, one worker),
feeds it programme, group and placement events, collects every token through the teacher API,
then submits every response over HTTP. Prints responses/s, latency percentiles and the time until
the results (API and the surveys.results.updated event) reflect every response. Database: SQLite in
a temporary directory, or a fresh PostgreSQL database with --database-url (bench/databases.py).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import nats  # noqa: E402

from bench import databases  # noqa: E402
from bench.load import Recorder, cpu_seconds, free_port, run, run_pool, session, wait_healthy  # noqa: E402
from shared.contracts import GroupRegistered, PlacementAssigned, ProgrammeOpened, PupilRef  # noqa: E402
from shared.embedded import start_nats  # noqa: E402
from shared.envelope import make_event  # noqa: E402
from shared.topology import Topology, declare_streams  # noqa: E402

ADMIN = {"Authorization": "Bearer bench-admin"}
PROGRAMME = "gd-bench"
GROUP_SIZE = 25
GROUPS_PER_SCHOOL = 4
LIKERT = ("self_efficacy_good_at_tech", "self_efficacy_solve_problem", "interest_tech", "interest_jobs")


def server_side_mean_ms(metrics: str) -> float | None:
    """Mean time the service itself spent on a response POST (its own HTTP histogram)."""
    route = 'route="/api/v1/surveys/{token}/response"'
    total = count = None
    for line in metrics.splitlines():
        if route in line and 'method="POST"' in line:
            if line.startswith("girlsday_http_request_duration_seconds_sum"):
                total = float(line.rsplit(" ", 1)[1])
            elif line.startswith("girlsday_http_request_duration_seconds_count"):
                count = float(line.rsplit(" ", 1)[1])
    return round(1000 * total / count, 1) if total and count else None


async def seed(js, topology: Topology, pupils: int) -> list[str]:
    async def publish(data) -> None:
        subject = data.nats_subject()
        await js.publish(
            topology.subject(subject), make_event(data, source="/bench").to_bytes(), stream=topology.stream_for_subject(subject)
        )

    now = datetime.now(UTC)
    await publish(
        ProgrammeOpened(
            programme_id=PROGRAMME,
            kind="girls_day",
            name="Benchmark",
            event_date=date.today(),
            registration_opens=now - timedelta(days=60),
            registration_closes=now - timedelta(days=10),
            target_pupils=pupils,
            target_schools=100,
            target_companies=100,
            allocation_mode="groups",
            min_group_size=10,
            min_age=10,
            max_age=15,
        )
    )
    schools: list[str] = []
    for g in range((pupils + GROUP_SIZE - 1) // GROUP_SIZE):
        school = f"{g // GROUPS_PER_SCHOOL:02d}BN"
        if school not in schools:
            schools.append(school)
        refs = [f"b{g:04d}-{i:02d}" for i in range(min(GROUP_SIZE, pupils - g * GROUP_SIZE))]
        await publish(
            GroupRegistered(
                group_id=f"g{g}",
                school_id=school,
                programme_id=PROGRAMME,
                pupil_count=len(refs),
                pupils=[PupilRef(pupil_ref=r, age=13, parental_consent=True) for r in refs],
            )
        )
        await publish(
            PlacementAssigned(
                placement_id=f"pl{g}",
                run_id="bench",
                programme_id=PROGRAMME,
                group_id=f"g{g}",
                school_id=school,
                activity_id=f"act{g % 40}",
                company_id="c1",
                pupil_count=len(refs),
                pupil_refs=refs,
            )
        )
    return schools


async def get_json(http: aiohttp.ClientSession, path: str, **kw):
    async with http.get(path, **kw) as response:
        return response.status, await response.json()


async def collect_tokens(http: aiohttp.ClientSession, schools: list[str], pupils: int) -> list[tuple[str, str]]:
    """Every invitation's (phase, token), once the service has made them all and knows every pupil's consent."""
    deadline = time.monotonic() + 300
    while True:
        found: list[tuple[str, str]] = []
        last_pupil = None
        for school in schools:
            url = (await get_json(http, f"/api/v1/admin/teacher-links/{PROGRAMME}/{school}", headers=ADMIN))[1]["url"]
            _, data = await get_json(http, f"/api/v1/teacher/{PROGRAMME}/{school}", params={"key": url.split("key=")[1]})
            for p in (p for g in data["groups"] for p in g["pupils"]):
                found += [(phase, p[phase]["token"]) for phase in ("pre", "post") if p.get(phase)]
                if p["pupil_ref"] == last_ref(pupils) and p.get("post"):
                    last_pupil = p["post"]["token"]  # post is open (the event is today); pre opens with the bench's close
        # consent comes from registration's stream, invitations from matching's: the pupils of the
        # last group registered are known once her post survey opens (not 403 consent_required)
        if len(found) >= 2 * pupils and last_pupil and (await get_json(http, f"/api/v1/surveys/{last_pupil}"))[0] == 200:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(found)} of {2 * pupils} invitations (or consent unknown) after 300 s")
        await asyncio.sleep(1)


def last_ref(pupils: int) -> str:
    """The pupil ref `seed` registers last."""
    g = (pupils + GROUP_SIZE - 1) // GROUP_SIZE - 1
    return f"b{g:04d}-{min(GROUP_SIZE, pupils - g * GROUP_SIZE) - 1:02d}"


def answers(rng: random.Random, phase: str) -> dict:
    lift = 1 if phase == "post" else 0
    chosen = {item: min(5, rng.randint(1, 4) + lift * rng.randint(0, 1)) for item in LIKERT}
    weights = (3, 4, 3) if phase == "post" else (2, 4, 4)
    chosen["intention_technical_study"] = rng.choices(("yes", "maybe", "no"), weights)[0]
    return chosen


async def load(https: list[aiohttp.ClientSession], jobs: list[tuple[str, str]], clients: int) -> tuple[Recorder, float]:
    """Every token answered once by `clients` closed-loop clients (one keep-alive connection each,
    as 50 pupils' phones would have), spread over the replicas."""
    rng = random.Random(7)
    recorder = Recorder("response")

    def respond(n: int, token: str, body: dict):
        return lambda: recorder.call(
            https[n % len(https)], "response", "POST", f"/api/v1/surveys/{token}/response", ok=(201,), retries=2, json={"answers": body}
        )

    elapsed = await run_pool([respond(n, token, answers(rng, phase)) for n, (phase, token) in enumerate(jobs)], clients)
    return recorder, elapsed


async def main(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-surveys-"))
    async with databases.fresh_databases(args.database_url, ["surveys"], tmp) as urls:
        return await _run(args, tmp, urls["surveys"])


async def _run(args, tmp: Path, database_url: str) -> dict:
    server = start_nats(tmp / "nats")
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    topology = Topology(namespace)
    if args.replicas > 1 and not args.database_url:
        raise SystemExit("several replicas need PostgreSQL (--database-url)")
    ports = [free_port() for _ in range(args.replicas)]
    services = []
    for n, port in enumerate(ports):  # replicas share the database, the namespace and the durable consumers
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIRLSDAY_")}
        env.update(
            GIRLSDAY_ENVIRONMENT="development",
            GIRLSDAY_NATS_URL=server.url,
            GIRLSDAY_NAMESPACE=namespace,
            GIRLSDAY_DATA_DIR=str(tmp / "var"),
            GIRLSDAY_SURVEYS_PORT=str(port),
            GIRLSDAY_ADMIN_TOKEN="bench-admin",
            GIRLSDAY_LOG_LEVEL="WARNING",
        )
        env["GIRLSDAY_SURVEYS_DATABASE_URL"] = database_url
        log_file = open(tmp / f"surveys-{n}.log", "wb")  # a pipe nobody reads would block the service once full
        services.append(
            subprocess.Popen([sys.executable, "-m", "services.surveys"], env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
        )
        if n == 0:  # the first one migrates the database alone
            await wait_healthy(f"http://127.0.0.1:{port}", services[0], tmp)
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await declare_streams(js, topology)
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, service in zip(bases, services):
            await wait_healthy(base, service, tmp)
        # per replica, one session with a keep-alive connection for each of its share of the clients
        https = [session(base, max(1, args.clients // len(bases))) for base in bases]
        http = https[0]
        try:
            started = time.perf_counter()
            schools = await seed(js, topology, args.pupils)
            tokens = await collect_tokens(http, schools, args.pupils)
            seeded_s = time.perf_counter() - started
            closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()  # pre and post both open now
            async with http.put(f"/api/v1/admin/programmes/{PROGRAMME}/windows", headers=ADMIN, json={"pre_closes": closes}):
                pass

            results_sub = await js.subscribe(
                topology.subject("surveys.results.updated"), ordered_consumer=True, deliver_policy=nats.js.api.DeliverPolicy.NEW
            )
            random.Random(1).shuffle(tokens)
            profiler = (
                subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "-p",
                        str(services[0].pid),
                        "-r",
                        "100",
                        "--gil",
                        "--nonblocking",
                        "-f",
                        "raw",
                        "-o",
                        args.profile,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                if args.profile
                else None
            )
            cpu_before = sum(cpu_seconds(service.pid) for service in services)
            recorder, elapsed = await load(https, tokens, args.clients)
            finished = time.perf_counter()
            if profiler:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
            responses = len(recorder.latencies["response"])
            if not responses:
                raise SystemExit(f"no response was accepted: {dict(recorder.errors)} {recorder.samples}; service logs in {tmp}")
            server_cpu_ms = 1000 * (sum(cpu_seconds(service.pid) for service in services) - cpu_before) / responses

            async def wait_event() -> float:
                while True:
                    msg = await results_sub.next_msg(timeout=300)
                    data = json.loads(msg.data)["data"]
                    if data.get("responded") == {"pre": args.pupils, "post": args.pupils}:
                        return time.perf_counter() - finished

            if recorder.errors:
                raise SystemExit(
                    f"{sum(recorder.errors.values())} responses failed ({dict(recorder.errors)}), "
                    f"e.g. {recorder.samples[:3]}; service logs in {tmp}"
                )
            event_task = asyncio.create_task(wait_event())
            while True:
                status, body = await get_json(http, f"/api/v1/admin/results/{PROGRAMME}", headers=ADMIN)
                rates = body.get("response_rates", {}).get("programme", {}) if status == 200 else {}
                if all(rates.get(p, {}).get("responded") == args.pupils for p in ("pre", "post")):
                    break
                if time.perf_counter() - finished > 300:
                    raise SystemExit(f"results do not reflect every response after 300 s: {rates}; service logs in {tmp}")
                await asyncio.sleep(0.05)
            api_reflect_s = time.perf_counter() - finished
            event_reflect_s = await asyncio.wait_for(event_task, 300)
            paired = body["paired"]
            async with http.get("/metrics") as response:
                server_ms = server_side_mean_ms(await response.text())
        finally:
            for each in https:
                await each.close()
    finally:
        await nc.close()
        for service in services:
            service.send_signal(signal.SIGINT)
        for service in services:
            try:
                service.wait(60)
            except subprocess.TimeoutExpired:
                service.kill()
        server.stop()
    latency = recorder.figures("response")
    return {
        "benchmark": "surveys",
        "database": databases.kind(args.database_url),
        "pupils": args.pupils,
        "responses": responses,
        "clients": args.clients,
        "replicas": args.replicas,
        "errors": sum(recorder.errors.values()),
        "error_kinds": dict(recorder.errors),
        "error_samples": recorder.samples[:3],
        "retried_requests": recorder.retried,
        "seed_s": round(seeded_s, 2),
        "elapsed_s": round(elapsed, 2),
        "responses_per_s": round(responses / elapsed, 1),
        "p50_ms": latency["p50_ms"],
        "p99_ms": latency["p99_ms"],
        "max_ms": latency["max_ms"],
        "server_side_mean_ms_replica_0": server_ms,
        "server_cpu_ms_per_response": round(server_cpu_ms, 2),
        "results_reflect_api_s": round(api_reflect_s, 2),
        "results_reflect_event_s": round(event_reflect_s, 2),
        "paired_n": paired["n_pairs"],
        "intention_shift": paired["items"]["intention_technical_study"].get("shift"),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pupils", type=int, default=9500)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--replicas", type=int, default=1, help="service processes (PostgreSQL only)")
    databases.add_argument(parser)
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="py-spy samples of the (first) service during the load, raw flame-graph lines (py-spy installed in the venv)",
    )
    figures = run(main(parser.parse_args()))
    print(
        f"surveys bench ({figures['database']}): {figures['responses']} responses from {figures['clients']} clients "
        f"in {figures['elapsed_s']} s = {figures['responses_per_s']} responses/s, errors {figures['errors']}"
    )
    print(f"latency p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms")
    print(
        f"results reflect every response after {figures['results_reflect_api_s']} s (API), "
        f"{figures['results_reflect_event_s']} s (surveys.results.updated)"
    )
    print(json.dumps(figures))
