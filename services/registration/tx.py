"""Transactions of the registration service: on SQLite, group commit on the connection's thread.

`await write(runtime, fn)` runs `fn(session)` in a transaction and returns what it returns (an
exception rolls the transaction back and is raised to the caller); `await read(runtime, fn)` the
same for reads. On PostgreSQL `session` is a pooled `AsyncConnection` per call (the pool gives
each its own connection, so the round trips of concurrent requests overlap; a Core connection, as
the commands use no ORM, costs a tenth less CPU per request than an `AsyncSession`).

On SQLite all of a service's writes go through one connection anyway, and aiosqlite runs every
call on that connection's own thread: each round trip is a hop there and back, and each hop waits
for a turn of the busy event loop (a registration took 3 hops, plus checking the connection out
and resetting it). So here the transactions that arrive together run as one batch, in one hop:
on the connection's thread, one after another, inside one `BEGIN IMMEDIATE ... COMMIT`, each in
its own SAVEPOINT — an exception rolls back that transaction only and goes to its caller; the
others commit. (The savepoints are taken only when needed: a batch runs without them first, and
again with them if one of its transactions raised.) Reads of the batch run first, outside the
write transaction. The functions run there as they are: a `session.execute` on that thread
completes at once, so a coroutine that awaits only its session finishes without ever suspending
and is driven to its end right there (awaiting anything else is an error). Each transaction still sees its own writes and those of
the transactions before it in the batch, as if they had run one by one; a unique constraint
(same key, same BRIN) that a batch mate won surfaces as the usual `IntegrityError`.

Statements marked with `prepare` (module constants: the write path's lookups and inserts) run
there straight on the sqlite3 cursor: compiled once by SQLAlchemy for the engine's dialect, their
parameters and result columns converted by the same SQLAlchemy type processors, and DBAPI errors
raised as SQLAlchemy's. SQLAlchemy's own per-execute machinery (execution context, result
metadata, a frozen result) cost five times the SQL itself, and a registration runs five of them.
Everything else, and everything on PostgreSQL, goes through SQLAlchemy as usual.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import weakref
from collections import namedtuple
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Insert, create_engine
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.pool import StaticPool

from shared import db
from shared.outbox import Outbox

T = TypeVar("T")
Work = Callable[[Any], Awaitable[T]]
MAX_BATCH = 200

_sync_connections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_prepared: dict[int, _Prepared] = {}


def prepare(statement: T) -> T:
    """Mark a statement that is built once (a module constant) to run straight on the sqlite3
    cursor inside batches; it is returned unchanged, so PostgreSQL and tests see no difference."""
    if id(statement) not in _prepared:
        _prepared[id(statement)] = _Prepared(weakref.ref(statement))
        weakref.finalize(statement, _prepared.pop, id(statement), None)  # its id may be reused once it is gone
    return statement


def sqlite(runtime) -> bool:
    return _is_sqlite(runtime.database_url)


@functools.cache
def _is_sqlite(url: str) -> bool:
    return db.is_sqlite(url)


async def write(runtime, fn: Work[T]) -> T:
    """Run `fn(session)` in one write transaction: committed when it returns, rolled back if it raises."""
    if sqlite(runtime):
        return await _batcher(runtime.engine).run(fn, write=True)
    async with runtime.engine.connect() as connection:
        info = connection.info
        info.pop("outboxes", None)
        async with connection.begin():
            value = await fn(connection)
        Outbox.committed(info)  # wake the relay when events were added
        return value


async def read(runtime, fn: Work[T]) -> T:
    """Run `fn(session)`, which only reads."""
    if sqlite(runtime):
        return await _batcher(runtime.engine).run(fn, write=False)
    async with runtime.engine.connect() as connection:
        return await fn(connection)


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
        engine = create_engine(
            "sqlite://", creator=lambda: raw, poolclass=StaticPool, pool_reset_on_return=None, json_serializer=_json_text
        )
        conn = engine.connect()
        _sync_connections[aio] = conn
    return conn


class _Form:
    """A prepared statement compiled for one dialect and one set of parameter names."""

    __slots__ = ("sql", "params", "row", "results")

    def __init__(self, sql: str, params: list, row, results: list | None) -> None:
        self.sql = sql
        self.params = params  # per placeholder: (name, None, processor) or (None, constant, None)
        self.row = row  # a namedtuple class for selects, else None
        self.results = results  # per column: its result processor or None; None if none has one

    def bind(self, values: dict) -> tuple:
        return tuple(
            [
                (process(values[name]) if process else values[name]) if name is not None else constant
                for name, constant, process in self.params
            ]
        )

    def run(self, cursor: sqlite3.Cursor, values) -> Rows:
        if isinstance(values, list):
            cursor.executemany(self.sql, [self.bind(v) for v in values])
            return Rows([], cursor.rowcount)
        cursor.execute(self.sql, self.bind(values or {}))
        if self.row is None:
            return Rows([], cursor.rowcount)
        make, processors = self.row._make, self.results
        if processors is None:  # no column needs converting
            return Rows(list(map(make, cursor.fetchall())), -1)
        return Rows([make([p(v) if p else v for p, v in zip(processors, raw)]) for raw in cursor.fetchall()], -1)


class _Prepared:
    def __init__(self, statement: weakref.ref) -> None:
        self._statement = statement
        self._forms: dict[tuple, _Form | None] = {}

    def form(self, dialect, values) -> _Form | None:
        """The compiled form for these parameter names, or None where SQLAlchemy must run it
        (expanding IN lists, Python-side defaults, RETURNING ...)."""
        names = tuple(values[0] if isinstance(values, list) else values or ())  # in the caller's order
        key = (id(dialect), names)
        try:
            return self._forms[key]
        except KeyError:
            form = self._forms[key] = self._compile(dialect, names)
            return form

    def _compile(self, dialect, names: tuple) -> _Form | None:
        statement = self._statement()
        insert = isinstance(statement, Insert)
        compiled = statement.compile(dialect=dialect, column_keys=list(names) if insert else None)
        if (
            not compiled.positional
            or compiled.insert_prefetch
            or compiled.update_prefetch
            or getattr(compiled, "postfetch", None)
            or compiled.effective_returning
            or compiled.literal_execute_params
            or compiled.post_compile_params
        ):
            return None
        params = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in names:
                params.append((name, None, process))
            elif bind.value is not None and not bind.required:
                value = bind.effective_value
                params.append((None, process(value) if process else value, None))
            else:
                return None
        if not statement.is_select:
            return _Form(compiled.string, params, None, None)
        columns = list(statement.selected_columns)
        row = namedtuple("Row", [c.key for c in columns], rename=True)
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        return _Form(compiled.string, params, row, results if any(results) else None)


class Rows:
    """The buffered result of a prepared statement: the part of SQLAlchemy's `Result` the
    commands use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list, rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self):
        return iter(self._rows)

    def all(self) -> list:
        return self._rows

    def first(self):
        return self._rows[0] if self._rows else None

    def one(self):
        if len(self._rows) != 1:
            raise (NoResultFound if not self._rows else MultipleResultsFound)("expected exactly one row")
        return self._rows[0]

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def scalar_one(self):
        return self.one()[0]

    def scalars(self) -> list:
        return [row[0] for row in self._rows]


class ThreadSession:
    """The `AsyncSession` subset the commands use, on the connection's thread: each `execute`
    runs at once and answers a buffered result."""

    def __init__(self, conn: Connection, info: dict, cursor: sqlite3.Cursor) -> None:
        self._conn = conn
        self._cursor = cursor
        self.info = info

    async def execute(self, statement, params=None):
        prepared = _prepared.get(id(statement))
        if prepared is not None and (form := prepared.form(self._conn.dialect, params)) is not None:
            try:
                return form.run(self._cursor, params)
            except sqlite3.Error as exc:
                raise DBAPIError.instance(form.sql, params, exc, sqlite3.Error) from exc
        result = self._conn.execute(statement, params)
        return result.freeze()() if result.returns_rows else result

    async def scalar(self, statement, params=None):
        return (await self.execute(statement, params)).scalar()


def _json_text(value) -> str:
    """JSON columns as orjson writes them (the same JSON as `json.dumps`, without its spaces, 10x faster)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


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
    cursor = raw.cursor()
    outcomes: dict[int, tuple[bool, Any]] = {}
    for index, call in enumerate(batch):
        if not call.write:
            outcomes[index] = _outcome(call, conn, info, cursor)
    writes = [(index, call) for index, call in enumerate(batch) if call.write]
    # Optimistically without a SAVEPOINT per call (two statements each); the first call that
    # raises rolls the batch back, and the batch runs again with them. Nothing has left the
    # thread before COMMIT, so running a call again is invisible to its caller.
    if writes and not _write_all(raw, cursor, writes, outcomes, lambda call: _outcome(call, conn, info, cursor), savepoints=False):
        _write_all(raw, cursor, writes, outcomes, lambda call: _outcome(call, conn, info, cursor), savepoints=True)
    return [outcomes[index] for index in range(len(batch))]


def _outcome(call: _Call, conn: Connection, info: dict, cursor) -> tuple[bool, Any]:
    try:
        return True, _drive(call.fn(ThreadSession(conn, info, cursor)))
    except Exception as exc:
        return False, exc


def _write_all(raw, cursor, writes, outcomes: dict, run, *, savepoints: bool) -> bool:
    """The writes in one transaction; False (rolled back) if one raised without savepoints."""
    cursor.execute("BEGIN IMMEDIATE")
    try:
        for index, call in writes:
            if savepoints:
                cursor.execute("SAVEPOINT call")
            outcomes[index] = outcome = run(call)
            if not outcome[0]:
                if not savepoints:
                    cursor.execute("ROLLBACK")
                    return False
                cursor.execute("ROLLBACK TO call")
            if savepoints:
                cursor.execute("RELEASE call")
        cursor.execute("COMMIT")
        return True
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
