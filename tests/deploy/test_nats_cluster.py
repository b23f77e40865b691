"""Three nats-servers with deploy/nats/cluster.conf form a JetStream cluster; the Kubernetes streams
job declares every stream with 3 replicas, and acknowledged events survive the loss of a node."""

from __future__ import annotations

import os
import subprocess
import sys

import nats
import pytest
import yaml

from tests.deploy import natsproc
from tests.helpers import eventually, free_port

STREAMS_JOB = natsproc.ROOT / "deploy" / "k8s" / "base" / "streams-job.yaml"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ports = [free_port() for _ in range(3)]
    routes = ",".join(f"nats-route://127.0.0.1:{p}" for p in ports)
    nodes = []
    try:
        for index, port in enumerate(ports):
            workdir = tmp_path_factory.mktemp(f"nats-{index}")
            env = {**natsproc.server_environment(), "NATS_SERVER_NAME": f"nats-{index}"}
            nodes.append(
                natsproc.start(
                    natsproc.NATS_DIR / "cluster.conf",
                    workdir,
                    env=env,
                    extra_args=["--cluster", f"nats://127.0.0.1:{port}", "--routes", routes, "-P", str(workdir / "nats.pid")],
                )
            )
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def url(user: str, node) -> str:
    return node.client_url.replace("nats://", f"nats://{user}:{natsproc.password_of(user)}@")


def run_streams_job(nodes) -> subprocess.CompletedProcess:
    """The exact command of the Kubernetes job, with its environment, pointed at the local cluster."""
    job = yaml.safe_load(STREAMS_JOB.read_text())
    [container] = job["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[0] == "girlsday"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIRLSDAY_")}
    env["GIRLSDAY_NATS_URL"] = ",".join(url("streams", node) for node in nodes)
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *command[1:]], env=env, cwd=natsproc.ROOT, capture_output=True, text=True, timeout=120
    )


async def test_streams_job_declares_every_stream_with_three_replicas_and_events_survive_a_node(cluster):
    async def job_succeeds():
        result = run_streams_job(cluster)  # retried until the cluster has elected its meta leader
        return result.returncode == 0 and "streams ready: " in result.stdout

    await eventually(job_succeeds, timeout=60, interval=1)

    ops = await nats.connect(url("ops", cluster[0]))
    try:
        js = ops.jetstream()
        for name in ("REGISTRATION", "MATCHING", "SURVEYS", "REPORTING", "DEAD_LETTER"):
            info = await js.stream_info(name)
            assert info.config.num_replicas == 3
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2

        leader = (await js.stream_info("REGISTRATION")).cluster.leader
        survivor = next(node for i, node in enumerate(cluster) if f"nats-{i}" != leader)
    finally:
        await ops.close()

    registration = await nats.connect(url("registration", survivor))
    try:
        rjs = registration.jetstream(timeout=2)
        await rjs.publish("registration.test.before", b"{}", stream="REGISTRATION")
        next(node for i, node in enumerate(cluster) if f"nats-{i}" == leader).stop()

        async def accepted_after_failover():
            try:
                ack = await rjs.publish("registration.test.after", b"{}", stream="REGISTRATION", headers={"Nats-Msg-Id": "after-failover"})
                return ack.seq
            except (TimeoutError, nats.errors.Error):
                return None

        await eventually(accepted_after_failover, timeout=30, interval=0.5)
    finally:
        await registration.close()

    ops = await nats.connect(url("ops", survivor))
    try:
        state = (await ops.jetstream().stream_info("REGISTRATION")).state
        assert state.messages == 2
    finally:
        await ops.close()
