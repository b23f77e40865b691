"""A real nats-server started with deploy/nats/nats.conf enforces who may publish and consume what."""

from __future__ import annotations

import asyncio
import json
import uuid

import nats
import pytest
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

from shared.topology import Topology, declare_streams
from tests.deploy import natsproc

SERVICES = ("registration", "matching", "surveys", "reporting")
OWN_STREAM = {s: s.upper() for s in SERVICES}
READS = {
    "registration": (),
    "matching": ("REGISTRATION",),
    "surveys": ("REGISTRATION", "MATCHING"),
    "reporting": ("REGISTRATION", "MATCHING", "SURVEYS", "REPORTING"),
}
DENIED = 0.25  # seconds to wait for an answer that must not come (the violation itself is asserted)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = natsproc.start(natsproc.NATS_DIR / "nats.conf", tmp_path_factory.mktemp("nats-perm"))
    yield proc
    proc.stop()


class Session:
    """A connection as one user, collecting the permission violations the server reports."""

    def __init__(self, nc, errors):
        self.nc, self.errors, self.js = nc, errors, nc.jetstream(timeout=2)

    def violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e.lower()]


async def connect(server, user: str, **options) -> Session:
    errors: list[str] = []

    async def on_error(error):
        errors.append(str(error))

    nc = await nats.connect(
        server.client_url, user=user, password=natsproc.password_of(user), error_cb=on_error, allow_reconnect=False, **options
    )
    return Session(nc, errors)


@pytest.fixture
async def as_user(server):
    sessions: list[Session] = []

    async def open_session(user: str, **options) -> Session:
        session = await connect(server, user, **options)
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        await session.nc.close()


@pytest.fixture
async def streams(as_user):
    """The init job's user declares every stream, as `girlsday streams` does in compose and k8s."""
    admin = await as_user("streams")
    return await declare_streams(admin.js, Topology())


async def message_count(as_user, stream: str) -> int:
    ops = await as_user("ops")
    return (await ops.js.stream_info(stream)).state.messages


async def settle(session: Session) -> None:
    await session.nc.flush(timeout=2)
    await asyncio.sleep(0.05)


async def test_init_job_user_declares_every_stream(streams):
    assert sorted(streams) == ["DEAD_LETTER", "MATCHING", "REGISTRATION", "REPORTING", "SURVEYS"]


@pytest.mark.parametrize("user", ["streams", *SERVICES])
async def test_nobody_but_ops_can_delete_a_stream(as_user, streams, user):
    session = await as_user(user)
    with pytest.raises(asyncio.TimeoutError):
        await session.nc.request("$JS.API.STREAM.DELETE.REGISTRATION", b"", timeout=DENIED)
    assert session.violations()
    ops = await as_user("ops")
    assert (await ops.js.stream_info("REGISTRATION")).config.name == "REGISTRATION"


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_publishes_its_own_events_with_a_jetstream_ack(as_user, streams, service):
    session = await as_user(service)
    ack = await session.js.publish(
        f"{service}.test.happened", b"{}", stream=OWN_STREAM[service], headers={"Nats-Msg-Id": str(uuid.uuid4())}
    )
    assert ack.stream == OWN_STREAM[service] and ack.seq >= 1
    dead = await session.js.publish(f"deadletter.{service}.some-consumer", b"{}", stream="DEAD_LETTER")
    assert dead.stream == "DEAD_LETTER"
    assert session.violations() == []


async def test_reporting_publishes_public_figures_for_partners(as_user, streams):
    session = await as_user("reporting")
    ack = await session.js.publish("reporting.public.gd2027.kpi.updated", b"{}", stream="REPORTING")
    assert ack.stream == "REPORTING"


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_cannot_publish_another_services_subjects(as_user, streams, service):
    session = await as_user(service)
    others = [s for s in SERVICES if s != service]
    before = {s: await message_count(as_user, OWN_STREAM[s]) for s in others}
    forged = [session.js.publish(f"{other}.forged.event", b"{}", stream=OWN_STREAM[other], timeout=DENIED) for other in others]
    results = await asyncio.gather(*forged, return_exceptions=True)
    assert all(isinstance(r, asyncio.TimeoutError) for r in results)
    for other in others:
        await session.nc.publish(f"deadletter.{other}.forged", b"{}")
    await settle(session)
    assert len(session.violations()) == 2 * len(others)
    assert {s: await message_count(as_user, OWN_STREAM[s]) for s in others} == before


@pytest.mark.parametrize("service", SERVICES)
async def test_only_the_init_job_declares_streams(as_user, streams, service):
    session = await as_user(service)
    config = next(c for c in Topology().stream_configs() if c.name == OWN_STREAM[service])
    with pytest.raises(asyncio.TimeoutError):
        await session.nc.request(f"$JS.API.STREAM.UPDATE.{config.name}", json.dumps(config.as_dict()).encode(), timeout=DENIED)
    assert session.violations()


@pytest.mark.parametrize(("service", "stream"), [(s, st) for s in SERVICES for st in READS[s]])
async def test_each_service_pulls_and_acks_from_the_streams_it_reads(as_user, streams, service, stream):
    publisher = await as_user(stream.lower())
    await publisher.js.publish(f"{stream.lower()}.pull.test", b"{}", stream=stream)
    session = await as_user(service)
    durable = f"{service}-permtest-{uuid.uuid4().hex[:6]}"
    subscription = await session.js.pull_subscribe(
        f"{stream.lower()}.>", durable=durable, stream=stream, config=ConsumerConfig(deliver_policy="last")
    )
    [message] = await subscription.fetch(1, timeout=2)
    await message.ack_sync(timeout=2)
    info = await session.js.consumer_info(stream, durable)
    assert info.num_ack_pending == 0 and info.delivered.stream_seq >= 1
    assert session.violations() == []


@pytest.mark.parametrize(
    ("service", "stream"), [(s, st) for s in SERVICES for st in ("REGISTRATION", "MATCHING", "SURVEYS", "REPORTING") if st not in READS[s]]
)
async def test_a_service_cannot_consume_a_stream_it_does_not_read(as_user, streams, service, stream):
    session = await as_user(service)
    with pytest.raises(asyncio.TimeoutError):
        await session.js.add_consumer(
            stream,
            ConsumerConfig(name=f"{service}-sneaky", durable_name=f"{service}-sneaky", filter_subject=f"{stream.lower()}.>"),
            timeout=DENIED,
        )
    await session.nc.subscribe(f"{stream.lower()}.>")
    await settle(session)
    assert len(session.violations()) == 2


@pytest.mark.parametrize("service", ["matching", "surveys"])
async def test_a_service_cannot_listen_to_raw_subjects_outside_jetstream(as_user, streams, service):
    session = await as_user(service)
    await session.nc.subscribe("registration.>")
    await settle(session)
    assert session.violations()


async def partner(as_user) -> Session:
    return await as_user("partner-demo", inbox_prefix="_INBOX.partner-demo")


async def test_partner_cannot_subscribe_to_registration_events(as_user, streams):
    session = await partner(as_user)
    await session.nc.subscribe("registration.>")
    await session.nc.subscribe("reporting.>")
    await settle(session)
    assert len(session.violations()) == 2
    with pytest.raises(asyncio.TimeoutError):
        await session.js.add_consumer(
            "REGISTRATION",
            ConsumerConfig(name="partner-demo", durable_name="partner-demo", filter_subject="registration.>"),
            timeout=DENIED,
        )
    await settle(session)
    assert len(session.violations()) == 3


async def test_partner_consumes_public_reporting_events_with_its_own_durable(as_user, streams):
    reporting = await as_user("reporting")
    await reporting.js.publish("reporting.internal.projection.rebuilt", b"private", stream="REPORTING")
    await reporting.js.publish("reporting.public.gd2027.kpi.updated", b'{"placed": 1200}', stream="REPORTING")
    session = await partner(as_user)
    subscription = await session.js.pull_subscribe("reporting.public.>", durable="partner-demo", stream="REPORTING")
    messages = await subscription.fetch(10, timeout=1)
    assert messages and all(m.subject.startswith("reporting.public.") for m in messages)
    for message in messages:
        await message.ack_sync(timeout=2)
    assert session.violations() == []


async def test_partner_cannot_widen_its_filter_to_private_reporting_subjects(as_user, streams):
    session = await partner(as_user)
    with pytest.raises(asyncio.TimeoutError):
        await session.js.add_consumer(
            "REPORTING", ConsumerConfig(name="partner-demo", durable_name="partner-demo", filter_subject="reporting.>"), timeout=DENIED
        )
    assert session.violations()


async def test_partner_cannot_pull_from_a_service_consumer_or_read_other_inboxes(as_user, streams):
    reporting = await as_user("reporting")
    await reporting.js.pull_subscribe("registration.>", durable="reporting-projections-test", stream="REGISTRATION")
    session = await partner(as_user)
    with pytest.raises(asyncio.TimeoutError):
        await session.nc.request("$JS.API.CONSUMER.MSG.NEXT.REGISTRATION.reporting-projections-test", b'{"batch": 1}', timeout=DENIED)
    await session.nc.subscribe("_INBOX.>")
    await settle(session)
    assert len(session.violations()) >= 2


async def test_a_wrong_password_is_refused(server):
    with pytest.raises(Exception, match="[Aa]uthorization"):
        await nats.connect(
            server.client_url, user="matching", password="guess", allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
        )


async def test_stream_not_found_is_reported_to_services_reading_it(as_user, streams):
    session = await as_user("matching")
    with pytest.raises(NotFoundError):
        await session.js.consumer_info("REGISTRATION", "does-not-exist")
