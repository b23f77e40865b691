"""Erasure is final: what every consumer of pupil references shares (the design: docs/privacy.md).

A consumer that keeps pupil refs keeps a tombstone per erased pupil, in the same transaction as
the erasure, and drops a tombstoned pupil from every event it handles afterwards: events of two
streams, retries and replicas arrive in any order, and the erasure must win over a placement or
group event that was published before it but handled after it.

A tombstone holds a digest of (group, ref), never the ref itself: a pupil entered before
pseudonyms existed has her school's code as ref.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


def tombstones_table(metadata: MetaData) -> Table:
    return Table(
        "erased_pupils",
        metadata,
        Column("digest", String(64), primary_key=True),
        Column("programme_id", String(64), nullable=False, index=True),  # they expire with the programme's data
        Column("erased_at", DateTime(timezone=True), nullable=False),
    )


def digest(group_id: str, pupil_ref: str) -> str:
    return hashlib.sha256(f"girlsday-erased-pupil\0{group_id}\0{pupil_ref}".encode()).hexdigest()


async def bury(session: AsyncSession, table: Table, group_id: str, pupil_ref: str, programme_id: str | None) -> None:
    """Remember that this pupil is erased (idempotent)."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    row = {"digest": digest(group_id, pupil_ref), "programme_id": programme_id or "", "erased_at": datetime.now(UTC)}
    await session.execute(insert(table).values(row).on_conflict_do_nothing(index_elements=["digest"]))


async def erased(session: AsyncSession, table: Table, group_id: str, pupil_refs: Iterable[str]) -> set[str]:
    """Which of these pupils of the group are erased."""
    by_digest = {digest(group_id, ref): ref for ref in pupil_refs}
    if not by_digest:
        return set()
    found = await session.execute(select(table.c.digest).where(table.c.digest.in_(list(by_digest))))
    return {by_digest[d] for d in found.scalars()}


async def forget_programme(session: AsyncSession, table: Table, programme_id: str) -> int:
    """Drop the tombstones of a programme whose pupil data have expired (nothing names them any more)."""
    return (await session.execute(delete(table).where(table.c.programme_id == programme_id))).rowcount


async def truncate_wal(engine: AsyncEngine) -> None:
    """SQLite: move the write-ahead log into the database and empty it, so that pages holding
    erased rows (zeroed in the database by secure_delete) leave the -wal file too."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
