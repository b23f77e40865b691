"""Delivery guarantees of the shared library, on a real NATS and a real database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import nats
import pytest

from shared import db
from shared.contracts import SchoolRegistered
from shared.envelope import make_event
from tests.helpers import eventually
from tests.integration.platform import counter


def school(name: str = "Het Baken") -> SchoolRegistered:
    school_id = str(uuid.uuid4())
    return SchoolRegistered(school_id=school_id, brin="12AB", name=name, level="vo", postcode="3511 AB")


async def publish(js, topology, data, *, msg_id: str | None = None, payload: bytes | None = None):
    event = make_event(data, source="/tests")
    subject = data.nats_subject()
    await js.publish(
        topology.subject(subject),
        payload if payload is not None else event.to_bytes(),
        stream=topology.stream_for_subject(subject),
        headers={"Nats-Msg-Id": msg_id or event.id},
    )
    return event


@pytest.fixture
async def counting(js, topology, nats_url, new_database_url):
    """A running counter consumer; yields its engine."""
    engine = await counter.prepare(await new_database_url("counter"))
    nc = await nats.connect(nats_url)
    subscription = counter.build(topology, db.session_factory(engine), max_deliver=3)
    await subscription.start(nc)
    yield engine
    await subscription.stop()
    await nc.close()
    await engine.dispose()


async def dead_letters(js, topology) -> list:
    stream = topology.stream("DEAD_LETTER")
    info = await js.stream_info(stream)
    return [await js.get_msg(stream, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)] if info.state.messages else []


async def test_redelivered_event_changes_nothing_twice(js, topology, counting):
    data = school()
    event = await publish(js, topology, data)
    # The same event again, past JetStream's duplicate window (a fresh Nats-Msg-Id gets it stored).
    await publish(js, topology, data, msg_id=f"{event.id}-again", payload=event.to_bytes())
    await publish(js, topology, school("Next"))
    await eventually(lambda: _total_is(counting, 2))
    await asyncio.sleep(0.3)
    total, times = await counter.read(counting)
    assert total == 2 and times[data.school_id] == 1


async def _total_is(engine, expected: int) -> bool:
    total, _ = await counter.read(engine)
    return total == expected


async def test_malformed_event_is_dead_lettered_with_its_reason_and_later_events_flow(js, topology, counting):
    await publish(js, topology, school(), payload=b"{not json")
    bad = make_event(school(), source="/tests").model_copy(update={"data": {"school_id": "x"}})
    await publish(js, topology, school(), payload=bad.to_bytes())
    await publish(js, topology, school("Later"))
    await eventually(lambda: _total_is(counting, 1))
    letters = await eventually(lambda: _count_at_least(js, topology, 2))
    reasons = [letter.headers["Girlsday-Reason"] for letter in letters]
    assert reasons[0].startswith("not a CloudEvent")
    assert "does not match its contract" in reasons[1] and "brin" in reasons[1]
    assert letters[1].headers["Girlsday-Consumer"] == "reporting-counter-registration"


async def _count_at_least(js, topology, n):
    letters = await dead_letters(js, topology)
    return letters if len(letters) >= n else None


async def test_event_that_always_fails_is_dead_lettered_after_bounded_deliveries(js, topology, counting):
    await publish(js, topology, school("poison"))
    await publish(js, topology, school("Fine"))
    await eventually(lambda: _total_is(counting, 1))
    letters = await eventually(lambda: _count_at_least(js, topology, 1), timeout=20)
    assert letters[0].headers["Girlsday-Reason"].startswith("failed 3 times")
    assert "this school always fails" in letters[0].headers["Girlsday-Reason"]


async def test_permanent_error_is_dead_lettered_at_once(js, topology, counting):
    await publish(js, topology, school("permanent"))
    letters = await eventually(lambda: _count_at_least(js, topology, 1), timeout=5)
    assert letters[0].headers["Girlsday-Reason"] == "school names an unknown programme"


async def test_consumer_killed_mid_batch_loses_nothing_and_counts_nothing_twice(js, topology, nats_url, new_database_url):
    url = await new_database_url("killed")
    engine = await counter.prepare(url)
    events = 150
    for _ in range(events):
        await publish(js, topology, school())

    def spawn():
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.platform.counter", nats_url, url, topology.namespace, "0.01", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for line in process.stdout:  # wait until its consumer is subscribed
            if line.strip() == b"ready":
                return process
        raise AssertionError(f"counter consumer exited with {process.wait()}")

    first = spawn()
    try:
        await eventually(lambda: _total_at_least(engine, 30), timeout=30)
    finally:
        first.kill()  # SIGKILL: no graceful shutdown, messages in flight are not acked
        first.wait()
    partial, _ = await counter.read(engine)
    assert partial < events, "the consumer was not killed mid-way; nothing proven"
    second = spawn()
    try:
        await eventually(lambda: _total_is(engine, events), timeout=60)
        await asyncio.sleep(1.5)  # past ack_wait: any unacked leftovers would now be redelivered
    finally:
        second.terminate()
        second.wait()
    total, times = await counter.read(engine)
    assert (total, len(times), set(times.values())) == (events, events, {1})
    await engine.dispose()


async def _total_at_least(engine, n):
    total, _ = await counter.read(engine)
    return total >= n


async def test_a_backlog_is_handled_in_fetched_batches_not_one_message_at_a_time(js, topology, nats_url, new_database_url):
    from prometheus_client import REGISTRY

    engine = await counter.prepare(await new_database_url("batched"))
    events = 60
    for _ in range(events):
        await publish(js, topology, school())
    labels = {"service": "reporting", "consumer": "reporting-counter-registration"}
    before = REGISTRY.get_sample_value("girlsday_consumer_batch_size_count", labels) or 0
    nc = await nats.connect(nats_url)
    subscription = counter.build(topology, db.session_factory(engine), batch_size=20)
    await subscription.start(nc)
    try:
        await eventually(lambda: _total_is(engine, events), timeout=20)
    finally:
        await subscription.stop()
        await nc.close()
        await engine.dispose()
    batches = REGISTRY.get_sample_value("girlsday_consumer_batch_size_count", labels) - before
    # 60 waiting events at 20 a batch: 3 transactions (a few more if a fetch came back early); one
    # per event would mean the batching silently broke.
    assert batches <= 6, f"{events} events took {batches:.0f} batches"


async def test_an_event_from_a_newer_producer_with_an_added_field_is_processed_not_dead_lettered(js, topology, counting):
    """The rolling deploy: the producer already sends a field this consumer's contract does not know."""
    data = school("Newer")
    event = make_event(data, source="/tests")
    newer = event.model_copy(update={"data": event.data | {"website": "https://example.org"}})
    await publish(js, topology, data, msg_id=event.id, payload=newer.to_bytes())
    await eventually(lambda: _total_is(counting, 1))
    assert await dead_letters(js, topology) == []


async def test_stopping_a_consumer_finishes_its_batch_and_leaves_nothing_unacked(js, topology, nats_url, new_database_url):
    engine = await counter.prepare(await new_database_url("stopping"))
    nc = await nats.connect(nats_url)
    subscription = counter.build(topology, db.session_factory(engine), delay=0.05, batch_size=10)
    await subscription.start(nc)
    for _ in range(10):
        await publish(js, topology, school())
    await eventually(lambda: _total_at_least(engine, 1), timeout=10)
    await subscription.stop()
    total, _ = await counter.read(engine)
    info = await js.consumer_info(topology.stream("REGISTRATION"), "reporting-counter-registration")
    await nc.close()
    await engine.dispose()
    assert info.num_ack_pending == 0 and info.num_pending == 10 - total
