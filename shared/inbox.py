"""Inbox: a consumer's side effects happen exactly once per event.

`claim` records (consumer, event id) in the caller's transaction; it returns False when the event
was already processed (a redelivery or a re-publish), and the caller then skips its side effect.
Because the row commits with the side effect, a crash before commit leaves neither.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


async def claim(session: AsyncSession, table: Table, consumer: str, event_id: str) -> bool:
    statement = (
        db.insert(table, session)
        .values(consumer=consumer, event_id=event_id, processed_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
    )
    result = await session.execute(statement)
    return result.rowcount == 1


async def claim_many(session: AsyncSession, table: Table, consumer: str, event_ids: list[str]) -> set[str]:
    """Claim several events in one statement; returns the ids not processed before."""
    if not event_ids:
        return set()
    now = datetime.now(UTC)
    statement = (
        db.insert(table, session)
        .values([{"consumer": consumer, "event_id": event_id, "processed_at": now} for event_id in dict.fromkeys(event_ids)])
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        .returning(table.c.event_id)
    )
    return set((await session.execute(statement)).scalars())
