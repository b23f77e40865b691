"""Wiring of the matching service."""

import asyncio
import contextlib
import logging

from fastapi import FastAPI
from sqlalchemy import select, update

from services.matching import retention, service
from services.matching.api import router
from services.matching.config import MatchingSettings
from services.matching.handlers import build_consumers
from services.matching.store import metadata, programme_work
from shared import geo
from shared.retention import EVERY_S
from shared.service import Runtime, create_app
from shared.settings import Settings

log = logging.getLogger(__name__)


async def warm_geography(_runtime: Runtime) -> None:
    """Load the offline gazetteer (a few seconds) in the background, not on the first request."""
    asyncio.get_running_loop().run_in_executor(None, geo.known_postcodes)


class Worker:
    """Serves what programmes wait for (``store.programme_work``): re-allocations after changes in
    the read model, and runs when registration closed (``GIRLSDAY_MATCHING_AUTO_RUN``). Woken after
    each consumer transaction that asked for work, and every ``poll_s`` (a request from before a
    restart, a retry after a failure). The engine runs in a thread, never on the event loop."""

    def __init__(self, runtime: Runtime, poll_s: float = 1.0):
        self.runtime, self.poll_s = runtime, poll_s
        self.wanted = asyncio.Event()
        self.task: asyncio.Task | None = None

    def wake(self) -> None:
        self.wanted.set()

    async def start(self, _runtime: Runtime) -> None:
        self.task = asyncio.create_task(self._loop(), name="matching-worker")

    async def stop(self, _runtime: Runtime) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wanted.wait(), self.poll_s)
            self.wanted.clear()
            try:
                await self.once()
            except Exception:
                log.exception("matching worker failed; trying again in %.1f s", self.poll_s)

    async def once(self) -> None:
        rt = self.runtime
        await service.reallocate_pending(rt.sessions, rt.outbox)
        async with rt.sessions() as session:
            due = (await session.execute(select(programme_work.c.programme_id).where(programme_work.c.auto_run.is_(True)))).scalars().all()
        for programme_id in due:
            async with rt.sessions() as session, session.begin():  # claimed once, by one replica
                claim = update(programme_work).where(programme_work.c.programme_id == programme_id, programme_work.c.auto_run.is_(True))
                if (await session.execute(claim.values(auto_run=False))).rowcount != 1:
                    continue
            try:
                await service.start_run(rt.sessions, programme_id)
            except service.RunInProgress:
                log.info("auto-run of %s skipped: a run is in progress", programme_id)


def build_app(settings: Settings, config: MatchingSettings | None = None) -> FastAPI:
    config = config or MatchingSettings()
    runtime = Runtime("matching", settings, metadata)
    worker = Worker(runtime)
    runtime.on_start, runtime.on_stop = [warm_geography, worker.start], [worker.stop]
    runtime.add_consumers(build_consumers(auto_run=config.auto_run, wake=worker.wake))
    runtime.every(EVERY_S, lambda: retention.expire(runtime), "retention")
    app = create_app(runtime, [router], title="girlsday matching")
    app.state.worker = worker
    return app
