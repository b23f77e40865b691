"""Transactions of the registration service: on SQLite, group commit on the connection's thread.

`await write(runtime, fn)` runs `fn(session)` in a transaction and returns what it returns (an
exception rolls the transaction back and is raised to the caller); `await read(runtime, fn)` the
same for reads. On PostgreSQL `session` is a plain `AsyncSession` per call (the pool gives each
its own connection, so the round trips of concurrent requests overlap).

On SQLite all of a service's writes go through one connection anyway, and aiosqlite runs every
call on that connection's own thread: each round trip is a hop there and back, and each hop waits
for a turn of the busy event loop (a registration took 3 hops, plus checking the connection out
and resetting it). So here the transactions that arrive together run as one batch, in one hop:
on the connection's thread, one after another, inside one `BEGIN IMMEDIATE ... COMMIT`, each in
its own SAVEPOINT — an exception rolls back that transaction only and goes to its caller; the
others commit. Reads of the batch run first, outside the write transaction. The functions run
there as they are: a `session.execute` on that thread completes at once, so a coroutine that
awaits only its session finishes without ever suspending and is driven to its end right there
(awaiting anything else is an error). Each transaction still sees its own writes and those of
the transactions before it in the batch, as if they had run one by one; a unique constraint
(same key, same BRIN) that a batch mate won surfaces as the usual `IntegrityError`.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import StaticPool

from shared import db
from shared.outbox import Outbox

T = TypeVar("T")
Work = Callable[[Any], Awaitable[T]]
MAX_BATCH = 200

_sync_connections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sqlite(runtime) -> bool:
    return _is_sqlite(runtime.database_url)


@functools.cache
def _is_sqlite(url: str) -> bool:
    return db.is_sqlite(url)


async def write(runtime, fn: Work[T]) -> T:
    """Run `fn(session)` in one write transaction: committed when it returns, rolled back if it raises."""
    if sqlite(runtime):
        return await _batcher(runtime.engine).run(fn, write=True)
    async with runtime.sessions() as session, session.begin():
        return await fn(session)


async def read(runtime, fn: Work[T]) -> T:
    """Run `fn(session)`, which only reads."""
    if sqlite(runtime):
        return await _batcher(runtime.engine).run(fn, write=False)
    async with runtime.sessions() as session:
        return await fn(session)


def _batcher(engine) -> Batcher:
    batcher = _batchers.get(engine.sync_engine)
    if batcher is None:
        batcher = _batchers[engine.sync_engine] = Batcher(engine)
    return batcher


def _sync_connection(aio) -> Connection:
    """A synchronous SQLAlchemy connection over aiosqlite's sqlite3 connection (call on its thread).

    It never begins, commits or resets anything itself: the batch issues BEGIN/SAVEPOINT/COMMIT,
    and the async pool rolls back on return as always."""
    conn = _sync_connections.get(aio)
    if conn is None:
        raw = aio._conn
        engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool, pool_reset_on_return=None)
        conn = engine.connect()
        _sync_connections[aio] = conn
    return conn


class ThreadSession:
    """The `AsyncSession` subset the commands use, on the connection's thread: each `execute`
    runs at once and answers a buffered result."""

    def __init__(self, conn: Connection, info: dict) -> None:
        self._conn = conn
        self.info = info

    async def execute(self, statement, params=None):
        result = self._conn.execute(statement, params)
        return result.freeze()() if result.returns_rows else result

    async def scalar(self, statement, params=None):
        return (await self.execute(statement, params)).scalar()


def _drive(coroutine):
    """Run a coroutine that never suspends (it awaits only a `ThreadSession`) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a batched transaction awaited something other than its session")


class _Call:
    __slots__ = ("fn", "write", "future")

    def __init__(self, fn: Work, write: bool) -> None:
        self.fn = fn
        self.write = write
        self.future = asyncio.get_running_loop().create_future()


class Batcher:
    """The SQLite group commit of one database: calls queue up while a batch runs; the next batch
    takes them all (up to MAX_BATCH). No task runs while nothing is queued."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self._queue: list[_Call] = []
        self._task: asyncio.Task | None = None
        self.batches = 0  # how many batches ran (tests, diagnostics)

    async def run(self, fn: Work[T], *, write: bool) -> T:
        call = _Call(fn, write)
        self._queue.append(call)
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="registration-group-commit")
        return await call.future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._run(batch)
        finally:
            self._task = None

    async def _run(self, batch: list[_Call]) -> None:
        info: dict = {}
        try:
            async with self.engine.connect() as connection:
                aio = (await connection.get_raw_connection()).driver_connection
                outcomes = await aio._execute(_on_thread, aio, batch, info)
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch was stored
            for call in batch:
                if not call.future.done():
                    call.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        Outbox.committed(info)  # wake the relay when events were added
        for call, (ok, value) in zip(batch, outcomes):
            if call.future.done():  # the caller went away (e.g. the client disconnected)
                continue
            if ok:
                call.future.set_result(value)
            else:
                call.future.set_exception(value)


def _on_thread(aio, batch: list[_Call], info: dict) -> list[tuple[bool, Any]]:
    """One batch on the connection's thread: the reads, then the writes in one transaction."""
    conn = _sync_connection(aio)
    raw = conn.connection.dbapi_connection
    outcomes: dict[int, tuple[bool, Any]] = {}
    for index, call in enumerate(batch):
        if not call.write:
            try:
                outcomes[index] = (True, _drive(call.fn(ThreadSession(conn, info))))
            except Exception as exc:
                outcomes[index] = (False, exc)
    writes = [(index, call) for index, call in enumerate(batch) if call.write]
    if writes:
        raw.execute("BEGIN IMMEDIATE")
        try:
            for index, call in writes:
                raw.execute("SAVEPOINT call")
                try:
                    outcomes[index] = (True, _drive(call.fn(ThreadSession(conn, info))))
                except Exception as exc:
                    raw.execute("ROLLBACK TO call")
                    outcomes[index] = (False, exc)
                raw.execute("RELEASE call")
            raw.execute("COMMIT")
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
    return [outcomes[index] for index in range(len(batch))]
