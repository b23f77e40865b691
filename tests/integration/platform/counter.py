"""A tiny consumer with a side effect that is NOT idempotent on its own (a counter), to prove that
the shared inbox makes it exactly-once. Runs in-process or as a subprocess (`python -m ...`)."""

from __future__ import annotations

import asyncio
import os
import sys

import nats
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.ext.asyncio import create_async_engine

from shared import db
from shared.broker import Consumer, DeliveryRules, PermanentError, Subscription
from shared.contracts import SchoolRegistered
from shared.inbox import inbox_table
from shared.topology import Topology

metadata = MetaData()
inbox = inbox_table(metadata)
counters = Table("counters", metadata, Column("name", String(20), primary_key=True), Column("value", Integer, nullable=False))
seen = Table("seen", metadata, Column("school_id", String(36), primary_key=True), Column("times", Integer, nullable=False))


def build(
    topology: Topology, sessions, *, max_deliver: int = 3, delay: float = 0.0, ack_wait: float = 30.0, batch_size: int = 20
) -> Subscription:
    """The counter consumer; `await subscription.start(nats_connection)` runs it."""

    async def count(event, data: SchoolRegistered, session) -> None:
        if data.name == "poison":
            raise RuntimeError("this school always fails")
        if data.name == "permanent":
            raise PermanentError("school names an unknown programme")
        if delay:
            await asyncio.sleep(delay)
        await session.execute(update(counters).where(counters.c.name == "schools").values(value=counters.c.value + 1))
        existing = (await session.execute(select(seen.c.times).where(seen.c.school_id == data.school_id))).scalar()
        if existing is None:
            await session.execute(seen.insert().values(school_id=data.school_id, times=1))
        else:
            await session.execute(update(seen).where(seen.c.school_id == data.school_id).values(times=existing + 1))

    consumer = Consumer(
        purpose="counter", streams=("registration",), handlers={SchoolRegistered: count}, ack_wait_s=ack_wait, batch_size=batch_size
    )
    rules = DeliveryRules(service="reporting", topology=topology, sessions=sessions, inbox=inbox, max_deliver=max_deliver)
    return Subscription(consumer, rules)


async def prepare(url: str):
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        if not (await conn.execute(select(counters.c.value).where(counters.c.name == "schools"))).first():
            await conn.execute(counters.insert().values(name="schools", value=0))
    return engine


async def read(engine) -> tuple[int, dict[str, int]]:
    """Read without taking the write lock (shared.db's SQLite engines BEGIN IMMEDIATE), so a test
    can watch a consumer in another process that holds it batch after batch."""
    reader = create_async_engine(engine.url)
    try:
        return await _read(reader)
    finally:
        await reader.dispose()


async def _read(engine) -> tuple[int, dict[str, int]]:
    async with engine.connect() as conn:
        total = (await conn.execute(select(counters.c.value))).scalar_one()
        times = dict((await conn.execute(select(seen.c.school_id, seen.c.times))).all())
    return total, times


async def _main() -> None:
    nats_url, database_url, namespace, delay, ack_wait = sys.argv[1:6]
    engine = await prepare(database_url)
    nc = await nats.connect(nats_url)
    await build(Topology(namespace), db.session_factory(engine), delay=float(delay), ack_wait=float(ack_wait)).start(nc)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(_main())
