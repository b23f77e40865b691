"""The SQLite write path (`services.registration.tx`): one thread hop per round trip, same semantics
as a session — atomic, read-your-writes, rolled back on any error."""

from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from services.registration.commands import PROGRAMME_BY_ID
from services.registration.store import idempotency, metadata, programmes
from services.registration.tx import reading, transaction
from shared import db


@pytest.fixture
async def runtime(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'registration.db'}"
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield SimpleNamespace(database_url=url, engine=engine)
    await engine.dispose()


def key_row(key: str) -> dict:
    from datetime import UTC, datetime

    return {"key_hash": key, "fingerprint": "f", "status_code": 201, "body": "{}", "created_at": datetime.now(UTC)}


async def keys(runtime) -> list[str]:
    async with reading(runtime) as session:
        return list((await session.execute(select(idempotency.c.key_hash).order_by(idempotency.c.key_hash))).scalars())


async def test_queued_writes_commit_together_in_one_round_trip_with_the_commit(runtime):
    async with transaction(runtime) as tx:
        await tx.execute(insert(idempotency), key_row("a"))
        await tx.execute(insert(idempotency), key_row("b"))
    assert tx.hops == 1
    assert await keys(runtime) == ["a", "b"]


async def test_a_read_after_a_queued_write_sees_it(runtime):
    async with transaction(runtime) as tx:
        await tx.execute(insert(idempotency), key_row("a"))
        assert (await tx.execute(select(idempotency.c.key_hash))).scalar() == "a"


async def test_a_failing_write_at_commit_rolls_back_the_whole_transaction(runtime):
    async with transaction(runtime) as tx:
        await tx.execute(insert(idempotency), key_row("a"))
    with pytest.raises(IntegrityError):
        async with transaction(runtime) as tx:
            await tx.execute(insert(idempotency), key_row("b"))
            await tx.execute(insert(idempotency), key_row("a"))  # duplicate key: fails only at the commit
    assert await keys(runtime) == ["a"]
    async with transaction(runtime) as tx:  # the connection is usable again, nothing left open
        await tx.execute(insert(idempotency), key_row("c"))
    assert await keys(runtime) == ["a", "c"]


async def test_an_exception_in_the_command_rolls_back(runtime):
    with pytest.raises(RuntimeError):
        async with transaction(runtime) as tx:
            await tx.execute(insert(idempotency), key_row("a"))
            await tx.execute(select(idempotency.c.key_hash))  # the insert is sent: now it must be rolled back
            raise RuntimeError("rule broken")
    assert await keys(runtime) == []


async def test_a_prefetched_read_travels_with_the_first_round_trip(runtime):
    async with transaction(runtime) as tx:
        tx.prefetch(PROGRAMME_BY_ID, {"id": "p1"})
        assert (await tx.execute(select(idempotency).where(idempotency.c.key_hash == "x"))).first() is None
        assert (await tx.execute(PROGRAMME_BY_ID, {"id": "p1"})).first() is None  # answered from the prefetch
        assert tx.hops == 1
        await tx.execute(PROGRAMME_BY_ID, {"id": "p2"})  # other parameters: a round trip of its own
        assert tx.hops == 2


async def test_a_queued_write_invalidates_prefetched_reads(runtime):
    from datetime import UTC, date, datetime

    now = datetime.now(UTC)
    async with transaction(runtime) as tx:
        tx.prefetch(PROGRAMME_BY_ID, {"id": "p1"})
        await tx.execute(select(idempotency.c.key_hash))
        await tx.execute(insert(programmes), dict(
            id="p1", kind="girls_day", name="P", event_date=date(2027, 4, 8), opens_at=now, closes_at=now, allocation_mode="groups",
            min_group_size=10, max_group_size=None, min_age=10, max_age=15, target_pupils=0, target_schools=0, target_companies=0,
            status="draft", revision=1, created_at=now))
        assert (await tx.execute(PROGRAMME_BY_ID, {"id": "p1"})).first().name == "P"
