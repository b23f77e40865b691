"""Registration's transactions (`services.registration.tx`): a command is a plain function of a
`Connection`; each keeps the semantics of its own transaction — atomic, read-your-writes, rolled
back on its own error, without harming the transactions that run at the same time."""

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from services.registration import tx
from services.registration.store import idempotency, metadata
from shared import db

KEYS = select(idempotency.c.key_hash).order_by(idempotency.c.key_hash)


@pytest.fixture
async def runtime(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'registration.db'}"
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield SimpleNamespace(database_url=url, engine=engine)
    await engine.dispose()


def key_row(key: str) -> dict:
    return {"key_hash": key, "fingerprint": "f", "status_code": 201, "body": "{}", "created_at": datetime.now(UTC)}


def inserting(*names: str, then=None):
    def work(conn):
        for name in names:
            conn.execute(insert(idempotency), key_row(name))
        if then:
            return then(conn)
        return names

    return work


async def keys(runtime) -> list[str]:
    def all_keys(conn):
        return list(conn.execute(KEYS).scalars())

    return await tx.read(runtime, all_keys)


async def test_a_transaction_commits_and_answers_what_its_work_returns(runtime):
    assert await tx.write(runtime, inserting("a", "b")) == ("a", "b")
    assert await keys(runtime) == ["a", "b"]


async def test_a_transaction_sees_its_own_writes(runtime):
    def count(conn):
        return list(conn.execute(KEYS).scalars())

    assert await tx.write(runtime, inserting("a", then=count)) == ["a"]


async def test_an_exception_rolls_back_that_transaction_and_reaches_its_caller(runtime):
    def broken(conn):
        raise RuntimeError("rule broken")

    with pytest.raises(RuntimeError):
        await tx.write(runtime, inserting("a", then=broken))
    assert await keys(runtime) == []


async def test_concurrent_transactions_fail_only_on_their_own(runtime):
    await tx.write(runtime, inserting("taken"))

    def broken(conn):
        raise ValueError("no")

    outcomes = await asyncio.gather(
        tx.write(runtime, inserting("a")),
        tx.write(runtime, inserting("b", "taken")),
        tx.write(runtime, inserting("c", then=broken)),
        tx.write(runtime, inserting("d")),
        return_exceptions=True,
    )
    assert outcomes[0] == ("a",) and outcomes[3] == ("d",)
    assert isinstance(outcomes[1], IntegrityError) and isinstance(outcomes[2], ValueError)
    assert await keys(runtime) == ["a", "d", "taken"]  # b and c rolled back entirely


async def test_a_later_transaction_sees_the_writes_of_an_earlier_one(runtime):
    def seen(conn):
        return list(conn.execute(KEYS).scalars())

    first, second = await asyncio.gather(tx.write(runtime, inserting("a")), tx.write(runtime, seen))
    assert second == ["a"]
