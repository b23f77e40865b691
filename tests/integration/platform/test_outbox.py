"""The transactional outbox and its relay, on a real NATS and a real database."""

from __future__ import annotations

import asyncio

import nats
import pytest
from sqlalchemy import MetaData

from shared import db
from shared.embedded import start_nats
from shared.outbox import Outbox, OutboxRelay, outbox_table
from shared.topology import Topology, declare_streams
from tests.helpers import eventually
from tests.integration.platform.test_delivery import school


async def outbox_on(url: str, service: str = "registration") -> tuple[Outbox, object, object]:
    metadata = MetaData()
    table = outbox_table(metadata)
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = db.session_factory(engine)
    outbox = Outbox(service, table)
    outbox.watch(sessions)
    return outbox, sessions, engine


async def commit_events(outbox, sessions, n: int) -> list[str]:
    ids = []
    async with sessions() as session, session.begin():
        for _ in range(n):
            ids.append((await outbox.add(session, school())).id)
    return ids


async def stream_event_ids(js, topology) -> list[str]:
    stream = topology.stream("REGISTRATION")
    info = await js.stream_info(stream)
    ids = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages:
            ids.append((await js.get_msg(stream, seq)).headers["Nats-Msg-Id"])
    return ids


async def test_event_committed_while_nats_is_down_is_published_once_nats_is_back(tmp_path, new_database_url, namespace):
    topology = Topology(namespace)
    server = start_nats(tmp_path / "nats")
    outbox, sessions, engine = await outbox_on(await new_database_url("outbox"))
    connection = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = connection.jetstream()
    await declare_streams(js, topology)
    relay = OutboxRelay(outbox, sessions, connection, topology, ack_timeout=1.0, skip_locked=not db.is_sqlite(str(engine.url)))
    relay.start()
    try:
        before = await commit_events(outbox, sessions, 3)
        await eventually(lambda: _pending_is(outbox, sessions, 0))

        server.stop()
        during = await commit_events(outbox, sessions, 5)  # the business transaction still commits
        await asyncio.sleep(1.5)
        assert await outbox.pending(sessions) == 5  # kept, not lost, while NATS is away

        server = start_nats(tmp_path / "nats", port=server.port)
        await eventually(lambda: _pending_is(outbox, sessions, 0), timeout=30)
        published = await stream_event_ids(js, topology)
        assert sorted(published) == sorted(before + during)  # each exactly once
    finally:
        await relay.stop()
        await connection.close()
        server.stop()
        await engine.dispose()


async def _pending_is(outbox, sessions, n) -> bool:
    return await outbox.pending(sessions) == n


async def test_relay_publishes_a_batch_in_commit_order(js, nc, topology, new_database_url):
    outbox, sessions, engine = await outbox_on(await new_database_url("order"))
    relay = OutboxRelay(outbox, sessions, nc, topology, batch_size=50, skip_locked=not db.is_sqlite(str(engine.url)))
    ids = await commit_events(outbox, sessions, 120)
    relay.start()
    try:
        await eventually(lambda: _pending_is(outbox, sessions, 0))
        assert await stream_event_ids(js, topology) == ids
    finally:
        await relay.stop()
        await engine.dispose()


async def test_several_relays_on_postgresql_never_publish_the_same_event_twice(js, nc, topology, new_database_url):
    url = await new_database_url("relays")
    if db.is_sqlite(url):
        pytest.skip("several relays per database is a PostgreSQL feature (SQLite has one owning process)")
    outbox, sessions, engine = await outbox_on(url)
    await commit_events(outbox, sessions, 3000)
    relays = [OutboxRelay(outbox, sessions, nc, topology, batch_size=100, skip_locked=True) for _ in range(3)]
    counts = await asyncio.gather(*(_publish_until_empty(relay) for relay in relays))
    assert sum(counts) == 3000  # no row was published by two relays
    assert len(set(await stream_event_ids(js, topology))) == 3000
    await engine.dispose()


async def _publish_until_empty(relay) -> int:
    total = 0
    while (published := await relay.publish_batch()) or await relay.outbox.pending(relay.sessions):
        total += published
        await asyncio.sleep(0)
    return total
