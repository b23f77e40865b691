"""Group commit: the one batching mechanism of the platform.

Many small units of work (requests, consumed events) cost one database transaction per *batch*
instead of one each. Two pieces:

- `batch_or_each(items, commit)`: `commit(items)` runs every item in ONE transaction and returns one
  outcome per item (a value, or the exception that item should get while the others go on). If the
  transaction fails as a whole, each item is run again alone, so only the failing one gets the
  failure. The consumers (`shared.broker`) run each fetched batch of events this way.
- `GroupCommit(commit)`: callers `await submit(item)` concurrently; one worker takes whatever has
  queued up (up to `max_batch`), runs it with `batch_or_each`, and answers each caller with its own
  outcome. A service's write path (surveys' responses, registration's commands) uses it. While the
  worker is not running (before start, after stop) an item is committed on its own at once.

The worker is owned by the service's `Runtime` (`runtime.add_worker(group_commit)`): started with
the service, and drained (everything accepted is committed) when it stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from shared.metrics import GROUP_COMMIT_BATCH

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
Outcome = R | BaseException
Commit = Callable[[list[T]], Awaitable[Sequence[Outcome]]]


async def batch_or_each(items: list[T], commit: Commit) -> list[Outcome]:
    """Outcomes of `items`: all in one `commit`, or, if that fails as a whole, one `commit` each."""
    try:
        outcomes = list(await commit(items))
    except Exception as exc:
        if len(items) == 1:
            return [exc]
        log.warning("batch of %d failed as a whole (%r); committing them one by one", len(items), exc)
        return [(await batch_or_each([item], commit))[0] for item in items]
    if len(outcomes) != len(items):
        raise RuntimeError(f"commit returned {len(outcomes)} outcomes for {len(items)} items")
    return outcomes


class GroupCommit(Generic[T, R]):
    """Concurrent `submit(item)` calls, committed in batches by one worker (see the module)."""

    def __init__(self, name: str, commit: Commit, *, max_batch: int = 500) -> None:
        self.name = name
        self.commit = commit
        self.max_batch = max_batch
        self._queued: deque[tuple[T, asyncio.Future]] = deque()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._stopping

    async def submit(self, item: T) -> R:
        """Commit `item` (with whatever else is queued); its outcome, or raise its exception."""
        if not self.running:
            (outcome,) = await batch_or_each([item], self.commit)
            return _result(outcome)
        done = asyncio.get_running_loop().create_future()
        self._queued.append((item, done))
        self._wakeup.set()
        return await done

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"group-commit-{self.name}")

    async def stop(self) -> None:
        """Commit everything accepted so far, then stop the worker (new items are committed alone)."""
        if self._task is not None:
            self._stopping = True
            self._wakeup.set()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            if not self._queued:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = [self._queued.popleft() for _ in range(min(self.max_batch, len(self._queued)))]
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[tuple[T, asyncio.Future]]) -> None:
        GROUP_COMMIT_BATCH.labels(self.name).observe(len(batch))
        try:
            outcomes = await batch_or_each([item for item, _ in batch], self.commit)
        except BaseException as exc:  # cancelled mid-commit: nobody may wait for ever
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc if isinstance(exc, Exception) else RuntimeError(f"{self.name}: cancelled"))
            raise
        for (_, done), outcome in zip(batch, outcomes):
            if done.done():  # its caller went away (cancelled)
                continue
            if isinstance(outcome, BaseException):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)


def _result(outcome):
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
