"""The platform's one batching mechanism: group commit with one-by-one fallback."""

from __future__ import annotations

import asyncio

import pytest

from shared.batching import GroupCommit, batch_or_each


class Refused(Exception):
    pass


class Ledger:
    """A stand-in transaction: commits a batch unless it holds a 'breaks' item (then nothing of it)."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []

    async def commit(self, items: list[str]) -> list[str | Exception]:
        await asyncio.sleep(0.001)  # a database round trip: others queue meanwhile
        if "breaks" in items:
            raise RuntimeError("constraint violated")
        self.transactions.append(items)
        return [Refused(item) if item.startswith("refused") else item.upper() for item in items]


async def test_a_batch_that_fails_as_a_whole_is_committed_one_by_one_so_only_the_culprit_fails():
    ledger = Ledger()
    outcomes = await batch_or_each(["a", "breaks", "c"], ledger.commit)
    assert outcomes[0] == "A" and outcomes[2] == "C"
    assert isinstance(outcomes[1], RuntimeError)
    assert ledger.transactions == [["a"], ["c"]]


async def test_concurrent_submissions_share_transactions_and_each_gets_its_own_outcome():
    ledger = Ledger()
    group = GroupCommit("test", ledger.commit, max_batch=50)
    await group.start()
    try:
        names = [f"item{i}" for i in range(200)] + ["refused-1"]
        results = await asyncio.gather(*(group.submit(name) for name in names), return_exceptions=True)
    finally:
        await group.stop()
    assert results[:200] == [name.upper() for name in names[:200]]
    assert isinstance(results[200], Refused)
    assert len(ledger.transactions) <= 10, f"{len(ledger.transactions)} transactions for 201 items: not batched"
    assert max(len(t) for t in ledger.transactions) <= 50


async def test_stopping_commits_everything_accepted_before_the_stop():
    ledger = Ledger()
    group = GroupCommit("test", ledger.commit)
    await group.start()
    waiting = [asyncio.create_task(group.submit(f"x{i}")) for i in range(30)]
    await asyncio.sleep(0)  # all 30 queued
    await group.stop()
    assert [task.result() for task in waiting] == [f"X{i}" for i in range(30)]
    assert await group.submit("after") == "AFTER"  # stopped: committed alone, at once
    assert ledger.transactions[-1] == ["after"]


async def test_without_a_running_worker_an_item_is_committed_alone_and_raises_its_refusal():
    group = GroupCommit("test", Ledger().commit)
    assert await group.submit("one") == "ONE"
    with pytest.raises(Refused):
        await group.submit("refused-2")
