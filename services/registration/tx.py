"""Transactions of the registration service, with one thread hop per round trip on SQLite.

aiosqlite runs every call on the connection's own thread; SQLAlchemy's adapter makes 3-4 such
calls per statement (cursor, execute, fetchall, close), plus 3 for `BEGIN IMMEDIATE`, and each
one waits for a turn of the busy event loop while it holds the service's only SQLite connection.
A group registration took ~23 of them. `transaction(runtime)` on SQLite hands the commands an
`AsyncSession` stand-in instead: writes without RETURNING are queued and sent together with the
next read or with the COMMIT, each round trip is one call on the connection's thread, and it runs
there through a synchronous SQLAlchemy connection over the same sqlite3 connection (so the types,
the compiled statements and the exceptions are SQLAlchemy's own). A registration is now 3-5 hops.

Commands see the same interface as with a session: `execute(...)` -> a buffered `Result`
(`.first()`, `.scalar()`, `.all()`, ...), `info` (the outbox records itself there). The one
difference: a queued write's errors (e.g. `IntegrityError`) surface at the next read or at the
commit, which still is inside `transaction(...)`. On PostgreSQL it is the plain `AsyncSession`
(the pool gives every request its own connection, the round trips overlap).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator

from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import StaticPool

from shared import db
from shared.outbox import Outbox

_sync_connections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _sync_connection(aio) -> Connection:
    """A synchronous SQLAlchemy connection over aiosqlite's sqlite3 connection (call on its thread).

    It never begins, commits or resets anything itself: `SqliteTx` issues BEGIN/COMMIT/ROLLBACK,
    and the async pool rolls back on return as always."""
    conn = _sync_connections.get(aio)
    if conn is None:
        raw = aio._conn
        engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool, pool_reset_on_return=None)
        conn = engine.connect()
        _sync_connections[aio] = conn
    return conn


def _key(statement, params) -> tuple:
    return id(statement), repr(sorted(params.items())) if params else ""


class _Queued:
    """What `execute` answers for a queued write: nothing to read (commands don't read them)."""

    def __getattr__(self, name):
        raise AttributeError(f"a queued write has no result ({name}); use RETURNING to read it back")


QUEUED = _Queued()


class SqliteTx:
    """The `AsyncSession` subset the commands use, one hop per read and one for the commit."""

    def __init__(self, aio, begin: str | None) -> None:
        self._aio = aio
        self._begin = begin  # issued together with the first statement
        self._began = False
        self._queued: list = []
        self._prefetch: list = []  # reads to send with the next round trip
        self._read_ahead: dict = {}  # their results, until a write is queued
        self.info: dict = {}
        self.hops = 0

    def prefetch(self, statement, params: dict) -> None:
        """A read the command will make: it travels with the next round trip, and `execute` of the
        same statement object with equal parameters answers from it (until a write is queued)."""
        self._prefetch.append((statement, params))

    async def execute(self, statement, params=None):
        if getattr(statement, "is_dml", False) and not statement.exported_columns:
            self._queued.append((statement, params))
            self._read_ahead.clear()
            return QUEUED
        if (frozen := self._read_ahead.pop(_key(statement, params), None)) is not None:
            return frozen()
        return (await self._round_trip(statement, params))()

    async def scalar(self, statement, params=None):
        return (await self.execute(statement, params)).scalar()

    async def _round_trip(self, statement=None, params=None, *, end: str | None = None):
        queued, self._queued = self._queued, []
        prefetch, self._prefetch = self._prefetch, []
        begin = self._begin if not self._began else None
        if not (begin or queued or prefetch or statement is not None or end):
            return None
        self._began = self._began or begin is not None
        aio = self._aio

        def work():
            conn = _sync_connection(aio)
            raw = conn.connection.dbapi_connection
            if begin:
                raw.execute(begin)
            for stmt, p in queued:
                conn.execute(stmt, p)
            ahead = [conn.execute(stmt, p).freeze() for stmt, p in prefetch]
            frozen = conn.execute(statement, params).freeze() if statement is not None else None
            if end:
                raw.execute(end)
            return ahead, frozen

        self.hops += 1
        ahead, frozen = await aio._execute(work)
        self._read_ahead.update((_key(stmt, p), result) for (stmt, p), result in zip(prefetch, ahead))
        return frozen

    async def commit(self) -> None:
        if self._queued or self._began:
            await self._round_trip(end="COMMIT" if self._began or self._begin else None)
            self._began = False

    async def rollback(self) -> None:
        self._queued.clear()
        if self._began:
            self._began = False
            raw = self._aio._conn
            await self._aio._execute(lambda: raw.in_transaction and raw.execute("ROLLBACK"))


@contextlib.asynccontextmanager
async def _sqlite(runtime, begin: str | None) -> AsyncIterator[SqliteTx]:
    async with runtime.engine.connect() as connection:  # the pool's only connection: we are the one writer now
        aio = (await connection.get_raw_connection()).driver_connection
        tx = SqliteTx(aio, begin)
        try:
            yield tx
            await tx.commit()
        except BaseException:
            await tx.rollback()
            raise
    Outbox.committed(tx.info)  # what the session's after_commit does


def sqlite(runtime) -> bool:
    return db.is_sqlite(runtime.database_url)


def prefetch(session, statement, params: dict) -> None:
    """Announce a read the transaction will make (saves a round trip on SQLite; nothing elsewhere)."""
    if isinstance(session, SqliteTx):
        session.prefetch(statement, params)


@contextlib.asynccontextmanager
async def transaction(runtime) -> AsyncIterator:
    """One write transaction: commits at the end, rolls back on an exception."""
    if sqlite(runtime):
        async with _sqlite(runtime, "BEGIN IMMEDIATE") as tx:  # the write lock up front, as shared.db does
            yield tx
    else:
        async with runtime.sessions() as session, session.begin():
            yield session


@contextlib.asynccontextmanager
async def reading(runtime) -> AsyncIterator:
    """Reads only. On SQLite without BEGIN: while we hold the pool's only connection nothing else
    of this service writes, and each SELECT is consistent on its own."""
    if sqlite(runtime):
        async with _sqlite(runtime, None) as tx:
            yield tx
    else:
        async with runtime.sessions() as session:
            yield session
