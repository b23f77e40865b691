"""Scale-out: two replicas of each consuming service against one NATS share the work.

Each replica is a real `python -m services.<name>` process; the replicas of a service share its
database and its durable consumers. Every event is handled exactly once across the replicas, and
reporting's projection equals the one a single replica builds from the same events.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from shared.contracts import SchoolRegistered
from shared.envelope import make_event
from shared.topology import Topology, declare_streams
from tests.helpers import eventually, free_port

CONSUMING = ("matching", "surveys", "reporting")
EVENTS = 120


async def publish(js, topology, data) -> None:
    subject = data.nats_subject()
    await js.publish(topology.subject(subject), make_event(data, source="/tests").to_bytes(), stream=topology.stream_for_subject(subject))


def spawn(service: str, settings, port: int, database_url: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIRLSDAY_")}
    env.update(
        GIRLSDAY_ENVIRONMENT="development",
        GIRLSDAY_NATS_URL=settings.nats_url,
        GIRLSDAY_NAMESPACE=settings.namespace,
        GIRLSDAY_DATA_DIR=str(settings.data_dir),
        GIRLSDAY_LOG_LEVEL="WARNING",
        GIRLSDAY_DECLARE_STREAMS="false",
        **{f"GIRLSDAY_{service.upper()}_PORT": str(port), f"GIRLSDAY_{service.upper()}_DATABASE_URL": database_url},
    )
    return subprocess.Popen([sys.executable, "-m", f"services.{service}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, f"replica on {port} exited with {process.returncode}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"replica on {port} not healthy")


def handled(port: int) -> dict[str, float]:
    """Events this replica handled, by outcome, from its own /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    totals: dict[str, float] = {}
    for match in re.finditer(r"^girlsday_events_consumed_total\{([^}]*)\} ([0-9.e+]+)$", text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if labels["consumer"].endswith("-registration"):
            totals[labels["outcome"]] = totals.get(labels["outcome"], 0) + float(match.group(2))
    return totals


@pytest.mark.timeout(300)
async def test_two_replicas_of_every_consuming_service_share_the_work_and_handle_each_event_once(settings, js, topology, new_database_url):
    replicas: dict[str, list[tuple[int, subprocess.Popen]]] = {}
    try:
        for service in CONSUMING:
            url = await new_database_url(f"{service}_shared")
            ports = [free_port(), free_port()]
            replicas[service] = [(port, spawn(service, settings, port, url)) for port in ports]
        for pairs in replicas.values():
            for port, process in pairs:
                wait_healthy(port, process)

        events: list[SchoolRegistered] = []

        async def trickle(n: int) -> None:  # a steady trickle, as registrations arrive: each replica has a pull waiting
            for _ in range(n):
                i = len(events)
                events.append(
                    SchoolRegistered(
                        school_id=str(uuid.uuid4()), brin=f"{i % 100:02d}AB", name=f"School {i}", level="vo", postcode="3511 AB"
                    )
                )
                await publish(js, topology, events[-1])
                await asyncio.sleep(0.01)

        await trickle(EVENTS)
        # Healthy is not yet pulling: on a loaded machine a replica's first fetch can come late, and a
        # batch of 120 may go to its twin. More of the trickle, until every replica has had work.
        deadline = time.monotonic() + 60
        while any(not handled(port) for pairs in replicas.values() for port, _ in pairs) and time.monotonic() < deadline:
            await trickle(20)

        for service, pairs in replicas.items():

            async def all_handled(pairs=pairs):
                return sum(sum(handled(port).values()) for port, _ in pairs) >= len(events)

            try:
                await eventually(all_handled, timeout=60)
            except AssertionError:
                raise AssertionError(f"{service}: handled {[handled(port) for port, _ in pairs]} of {len(events)}") from None
            per_replica = [handled(port) for port, _ in pairs]
            assert sum(sum(outcomes.values()) for outcomes in per_replica) == len(events), (service, per_replica)
            assert all(outcomes.get("duplicate", 0) == 0 for outcomes in per_replica), (service, per_replica)
            assert all(sum(outcomes.values()) > 0 for outcomes in per_replica), f"{service}: one replica did all the work {per_replica}"

        # A single replica, on a platform of its own fed the same events, builds the same projection.
        alone = settings.model_copy(update={"namespace": f"{settings.namespace}x"})
        alone_topology = Topology(alone.namespace)
        await declare_streams(js, alone_topology)
        single_port = free_port()
        single = spawn("reporting", alone, single_port, await new_database_url("reporting_single"))
        replicas["reporting-single"] = [(single_port, single)]
        wait_healthy(single_port, single)
        for data in events:
            await publish(js, alone_topology, data)
        shared_port = replicas["reporting"][0][0]

        async def same_summary():
            a = httpx.get(f"http://127.0.0.1:{shared_port}/api/summary").json()
            b = httpx.get(f"http://127.0.0.1:{single_port}/api/summary").json()
            return a == b and a

        summary = await eventually(same_summary, timeout=60)
        assert summary["schools"] == len(events)
    finally:
        if "alone_topology" in locals():
            for config in alone_topology.stream_configs():
                await js.delete_stream(config.name)
        for pairs in replicas.values():
            for _, process in pairs:
                process.terminate()
        for pairs in replicas.values():
            for _, process in pairs:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
