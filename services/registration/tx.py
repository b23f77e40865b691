"""Transactions of the registration service: the one way its commands and reads run.

A command is a plain synchronous function of a SQLAlchemy `Connection` (`fn(conn) -> T`).
`await write(runtime, fn)` runs it in one transaction: committed when it returns, rolled back when it
raises (the exception goes to the caller). `await read(runtime, fn)` runs a function that only reads.
Both use SQLAlchemy's public bridge from async to sync code, `AsyncConnection.run_sync`, on SQLite
and PostgreSQL alike, so the commands never await and never see which database they run on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from shared.outbox import Outbox

T = TypeVar("T")
Work = Callable[[Connection], T]


async def write(runtime: Any, fn: Work[T]) -> T:
    """Run `fn(conn)` in one write transaction; the relay is woken when it added events."""
    async with runtime.engine.connect() as connection:
        connection.info.pop("outboxes", None)  # the pooled connection's info outlives a checkout
        async with connection.begin():
            value = await connection.run_sync(fn)
        Outbox.committed(connection.info)
        return value


async def read(runtime: Any, fn: Work[T]) -> T:
    """Run `fn(conn)`, which only reads."""
    async with runtime.engine.connect() as connection:
        return await connection.run_sync(fn)
