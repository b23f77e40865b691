"""Transactional outbox: an event row commits with the business rows; a relay publishes it.

The relay publishes with the expected stream (so a PubAck confirms storage) and `Nats-Msg-Id` =
event id (so JetStream drops a re-publish inside its duplicate window), pipelines a whole batch
before waiting for the PubAcks (`PipelinedPublisher`), and deletes a row only after its PubAck. On PostgreSQL a batch is claimed with
`FOR UPDATE SKIP LOCKED`, so several relays (replicas) never publish the same row concurrently.
On SQLite there is one relay per database file (one process owns it), and the rows are read and
deleted in two short transactions so the single writer is never held while NATS answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contracts import Contract
from shared.envelope import CloudEvent, make_event
from shared.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED
from shared.topology import Topology

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("subject", String(255), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


class Outbox:
    """Where a service's events wait for the relay. `add` in the same transaction as the change."""

    def __init__(self, service: str, table: Table) -> None:
        self.service = service
        self.table = table
        # Built once: a statement executed as it is skips building and cache-keying one.
        self.insert = insert(table)
        columns = select(table.c.seq, table.c.event_id, table.c.subject, table.c.payload)
        self.oldest = columns.order_by(table.c.seq).limit(bindparam("limit"))
        self.oldest_after = columns.where(table.c.seq > bindparam("after")).order_by(table.c.seq).limit(bindparam("limit"))
        self.delete_through = delete(table).where(table.c.seq <= bindparam("seq"))
        self.wakeup = asyncio.Event()

    async def add(self, session: AsyncSession, data: Contract, *, subject: str | None = None) -> CloudEvent:
        return (await self.add_many(session, [(data, subject)]))[0]

    async def add_many(self, session: AsyncSession, items: list[tuple[Contract, str | None]]) -> list[CloudEvent]:
        """Several events (data, CloudEvents subject) in one INSERT, in this order."""
        events, rows = self._rows(items)
        if rows:
            await session.execute(self.insert, rows)
            session.info.setdefault("outboxes", set()).add(self)  # wake the relay when this commits
        return events

    def add_sync(self, connection: Connection, data: Contract, *, subject: str | None = None) -> CloudEvent:
        """`add` for synchronous code on a `Connection` (the caller's transaction wakes the relay
        after its commit with `Outbox.committed(connection.info)`)."""
        return self.add_many_sync(connection, [(data, subject)])[0]

    def add_many_sync(self, connection: Connection, items: list[tuple[Contract, str | None]]) -> list[CloudEvent]:
        events, rows = self._rows(items)
        if rows:
            connection.execute(self.insert, rows)
            connection.info.setdefault("outboxes", set()).add(self)
        return events

    def _rows(self, items: list[tuple[Contract, str | None]]) -> tuple[list[CloudEvent], list[dict]]:
        now = datetime.now(UTC)
        events = [make_event(data, source=f"/girlsday/{self.service}", subject=subject) for data, subject in items]
        rows = [
            {"event_id": event.id, "subject": data.nats_subject(), "payload": event.to_bytes(), "created_at": now}
            for event, (data, _) in zip(events, items)
        ]
        return events, rows

    def watch(self, sessions: async_sessionmaker) -> None:
        """Wake the relay as soon as a transaction that added events commits."""

        def after_commit(sync_session) -> None:
            Outbox.committed(sync_session.info)

        def after_rollback(sync_session) -> None:
            sync_session.info.pop("outboxes", None)

        target = sessions.kw["sync_session_class"]  # per factory, see shared.db.session_factory
        event.listen(target, "after_commit", after_commit)
        event.listen(target, "after_soft_rollback", lambda s, _t: after_rollback(s))

    @staticmethod
    def committed(info: dict) -> None:
        """A transaction whose `info` this is has committed: wake the relays of its outboxes.
        (For code that runs its own transactions on a `Connection`, e.g. registration/tx.py.)"""
        for outbox in info.pop("outboxes", ()):
            outbox.wakeup.set()

    @property
    def statements(self) -> tuple:
        """Every statement the outbox and its relay execute as they are."""
        return self.insert, self.oldest, self.oldest_after, self.delete_through

    async def pending(self, sessions: async_sessionmaker) -> int:
        async with sessions() as session:
            return (await session.execute(select(func.count()).select_from(self.table))).scalar_one()


Transaction = Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]]


class OutboxRelay:
    """`read`/`write` run the relay's database work on the single-relay path (`fn(session)` in a
    read or a write transaction); by default a session of `sessions` each. A service that has its
    own way of running transactions (registration's group commit on SQLite) passes its own."""

    def __init__(
        self,
        outbox: Outbox,
        sessions: async_sessionmaker,
        nc,
        topology: Topology,
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.5,
        ack_timeout: float = 5.0,
        skip_locked: bool = False,
        gather_s: float = 0.01,
        read: Transaction | None = None,
        write: Transaction | None = None,
    ) -> None:
        self.outbox = outbox
        self.sessions = sessions
        self._read = read or self._session_read
        self._write = write or self._session_write
        self.publisher = PipelinedPublisher(nc)
        self.topology = topology
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.ack_timeout = ack_timeout
        self.skip_locked = skip_locked
        self.gather_s = gather_s
        self._task: asyncio.Task | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.outbox.service}")

    async def stop(self) -> None:
        self._stopping = True
        self.outbox.wakeup.set()
        if self._task:
            await self._task

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                published = await self.publish_batch()
                failures = 0
            except Exception as exc:  # NATS down, database busy: keep the rows, retry with backoff
                failures += 1
                published = 0
                log.warning("outbox relay could not publish: %r (retrying)", exc)
                await asyncio.sleep(min(0.1 * 2**failures, 5.0))
            if published >= self.batch_size:
                continue
            if published == 0:
                OUTBOX_PENDING.labels(self.outbox.service).set(await self._safe_pending())
            try:
                await asyncio.wait_for(self.outbox.wakeup.wait(), self.poll_interval)
                # Woken by a commit: let a few more commits gather, so a busy service's relay reads
                # and deletes batches instead of one row per request on the shared connection.
                await asyncio.sleep(self.gather_s)
            except TimeoutError:
                pass
            self.outbox.wakeup.clear()
        await self.drain()

    async def drain(self) -> None:
        """Publish what is left (used at shutdown); leaves rows in place if NATS is unreachable."""
        try:
            while await self.publish_batch() >= self.batch_size:
                pass
        except Exception as exc:
            log.warning("outbox relay stopped with events pending: %r", exc)

    async def _safe_pending(self) -> int:
        try:
            return await self.outbox.pending(self.sessions)
        except Exception:
            return 0

    async def _session_read(self, fn):
        async with self.sessions() as session:
            return await fn(session)

    async def _session_write(self, fn):
        async with self.sessions() as session, session.begin():
            return await fn(session)

    async def publish_batch(self) -> int:
        """Publish what is pending; return how many events were acknowledged and removed."""
        if not self.skip_locked:
            return await self._publish_pipelined()
        table = self.outbox.table
        async with self.sessions() as session, session.begin():
            rows = (await session.execute(self.outbox.oldest.with_for_update(skip_locked=True), {"limit": self.batch_size})).all()
            done = await self._publish(rows)
            if done:
                await session.execute(delete(table).where(table.c.seq.in_(done)))
        OUTBOX_PUBLISHED.labels(self.outbox.service).inc(len(done))
        return len(done)

    async def _publish_pipelined(self) -> int:
        """The single relay of a database: while one batch waits for its PubAcks, the next is read
        and the previous one deleted, so the database and NATS work side by side."""
        outbox = self.outbox
        total = 0
        deletable: int | None = None  # highest seq acknowledged but not yet deleted

        async def oldest(session, after: int | None = None) -> list:
            if after is None:
                return (await session.execute(outbox.oldest, {"limit": self.batch_size})).all()
            return (await session.execute(outbox.oldest_after, {"after": after, "limit": self.batch_size})).all()

        async def delete_acknowledged(session) -> None:
            await session.execute(outbox.delete_through, {"seq": deletable})

        rows = await self._read(oldest)
        while rows:
            batch = await self.publisher.send(self._messages(rows))
            if deletable is not None:
                await self._write(delete_acknowledged)
            next_rows = []
            if len(rows) == self.batch_size:
                last = rows[-1].seq
                next_rows = await self._read(lambda session: oldest(session, last))  # noqa: B023 - awaited at once
            acked = _acked_prefix(await batch.wait(self.ack_timeout))
            total += acked
            OUTBOX_PUBLISHED.labels(self.outbox.service).inc(acked)
            if acked:
                deletable = rows[acked - 1].seq
            if acked < len(rows):
                log.warning("outbox relay: %d of %d events acknowledged", acked, len(rows))
                break  # keep order: the rest is published again (de-duplicated by Nats-Msg-Id)
            rows = next_rows
        if deletable is not None:
            await self._write(delete_acknowledged)
        return total

    def _messages(self, rows) -> list[tuple[str, bytes, dict[str, str]]]:
        return [
            (
                self.topology.subject(row.subject),
                row.payload,
                {"Nats-Msg-Id": row.event_id, "Nats-Expected-Stream": self.topology.stream_for_subject(row.subject)},
            )
            for row in rows
        ]

    async def _publish(self, rows) -> list[int]:
        """Publish rows in order; return the seqs of the acknowledged prefix."""
        if not rows:
            return []
        acked = _acked_prefix(await self.publisher.publish(self._messages(rows), timeout=self.ack_timeout))
        if acked < len(rows):
            log.warning("outbox relay: %d of %d events acknowledged", acked, len(rows))
        return [row.seq for row in rows[:acked]]


def _acked_prefix(flags: list[bool]) -> int:
    """How many messages from the start were acknowledged without a gap."""
    for index, ok in enumerate(flags):
        if not ok:
            return index
    return len(flags)


class PipelinedPublisher:
    """Publishes a batch to JetStream without waiting message by message.

    Every message carries a reply subject under one private inbox; JetStream answers each with a
    PubAck there. This is nats-py's `publish_async` idea with one subscription and no future per
    message, which roughly doubles throughput in our measurements (bench/outbox.py).
    A message counts as stored only when its PubAck arrives (a duplicate's PubAck included).
    """

    def __init__(self, nc) -> None:
        self.nc = nc
        self._prefix: str | None = None
        self._batches: dict[str, _Batch] = {}
        self._counter = 0

    async def publish(self, messages: list[tuple[str, bytes, dict[str, str]]], *, timeout: float) -> list[bool]:
        return await (await self.send(messages)).wait(timeout)

    async def send(self, messages: list[tuple[str, bytes, dict[str, str]]]) -> _Batch:
        """Send every message now; `await batch.wait(timeout)` gives which were acknowledged."""
        if self._prefix is None:
            prefix = self.nc.new_inbox()
            await self.nc.subscribe(f"{prefix}.*.*", cb=self._on_reply, pending_msgs_limit=1_000_000, pending_bytes_limit=-1)
            self._prefix = prefix
        self._counter += 1
        batch_id = str(self._counter)
        batch = _Batch(len(messages), lambda: self._batches.pop(batch_id, None))
        self._batches[batch_id] = batch
        try:
            for index, (subject, payload, headers) in enumerate(messages):
                await self.nc.publish(subject, payload, reply=f"{self._prefix}.{batch_id}.{index}", headers=headers)
        except BaseException:
            batch.forget()
            raise
        return batch

    async def _on_reply(self, msg) -> None:
        _, batch_id, index = msg.subject.rsplit(".", 2)
        batch = self._batches.get(batch_id)
        if batch is None:
            return  # a late answer for a batch that timed out: it will be published again
        # A PubAck is {"stream":..,"seq":..}; an error carries "error"; "no responders" has no body.
        batch.acked[int(index)] = bool(msg.data) and b'"error"' not in msg.data
        batch.remaining -= 1
        if batch.remaining == 0:
            batch.done.set()


class _Batch:
    __slots__ = ("acked", "remaining", "done", "forget")

    def __init__(self, size: int, forget) -> None:
        self.acked = [False] * size
        self.remaining = size
        self.done = asyncio.Event()
        if size == 0:
            self.done.set()
        self.forget = forget

    async def wait(self, timeout: float) -> list[bool]:
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self.forget()  # late answers are ignored: unacknowledged rows are published again
        return self.acked
