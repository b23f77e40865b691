"""Partner events: `reporting.public.<programme>.kpi.updated`, on change, throttled per programme.

Committed projection changes mark their programmes dirty; a loop recomputes the public (suppressed)
figures of dirty programmes and publishes those the throttle lets through, via the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting import store
from services.reporting.domain.report import public_kpis
from services.reporting.domain.throttle import KpiThrottle
from services.reporting.handlers import TOUCHED
from services.reporting.metrics import KPI_PUBLISHED
from shared.contracts import KpiUpdated
from shared.outbox import Outbox

log = logging.getLogger(__name__)


class KpiPublisher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        interval: float,
        threshold: int,
        base: int = 1,
        tick: float = 0.2,
    ) -> None:
        self.sessions, self.outbox = sessions, outbox
        self.throttle = KpiThrottle(interval)
        self.threshold, self.base, self.tick = threshold, base, tick
        self._dirty: set[str] = set()
        self._all_dirty = True  # after a start, every programme's figures are offered once
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._computed_at: dict[str, float] = {}
        sa_event.listen(sessions.kw["sync_session_class"], "after_commit", self._after_commit)

    def _after_commit(self, sync_session) -> None:
        for touched in sync_session.info.pop(TOUCHED, ()):
            if touched is None:
                self._all_dirty = True
            else:
                self._dirty |= touched
            self._wakeup.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Let a computation in progress finish (cancelling it could strand a transaction)."""
        if self._task:
            self._stopping = True
            self._wakeup.set()
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                log.warning("partner KPI publisher did not stop within 10 s")

    async def _run(self) -> None:
        while not self._stopping:
            wait = 5.0
            try:
                wait = await self.publish_due()
            except Exception:  # a database hiccup must not end the loop
                log.exception("publishing partner KPIs failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=max(min(wait, 5.0), self.tick))
            self._wakeup.clear()
            if not self._stopping:
                await asyncio.sleep(self.tick)  # gather a burst of changes into one computation

    def _wait_for(self, programme_id: str, now: float) -> float:
        """Figures are computed at most once per interval too (unchanged ones aren't published)."""
        computed = self._computed_at.get(programme_id)
        since = 0.0 if computed is None else max(0.0, computed + self.throttle.interval - now)
        return max(since, self.throttle.wait_for(programme_id, now))

    async def publish_due(self) -> float:
        """Publish what is due; returns the seconds until a deferred programme becomes due.

        Figures are only computed for programmes the throttle would publish now, so a busy
        stream costs one computation per programme per interval, not one per event.
        """
        now = time.monotonic()
        async with self.sessions() as session:
            if self._all_dirty:
                self._all_dirty = False
                self._dirty |= set(await store.programme_ids(session))
            ready = {p for p in self._dirty if self._wait_for(p, now) == 0}
            self._dirty -= ready
            for programme_id in sorted(ready):
                self._computed_at[programme_id] = now
                agg = await store.aggregates(session, programme_id)
                if agg is not None:
                    kpis = public_kpis(agg, self.threshold, self.base)
                    self.throttle.offer(programme_id, (kpis.figures, tuple(kpis.hidden)))
        waits = [self._wait_for(p, now) for p in self._dirty]
        due = self.throttle.due(now)
        if not due:
            return min(waits, default=5.0)
        async with self.sessions() as session, session.begin():
            for programme_id, (figures, hidden) in due.items():
                data = KpiUpdated(
                    programme_id=programme_id,
                    as_of=datetime.now(UTC),
                    figures=figures,
                    suppressed=list(hidden),
                    threshold=self.threshold,
                    rounding_base=self.base,
                )
                await self.outbox.add(session, data, subject=f"programme/{programme_id}")
                KPI_PUBLISHED.labels(programme_id).inc()
        return min(waits, default=5.0)
