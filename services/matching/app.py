"""Wiring of the matching service."""

import asyncio
import logging

from fastapi import FastAPI

from services.matching import service
from services.matching.api import router
from services.matching.config import MatchingSettings
from services.matching.handlers import build_consumers
from services.matching.store import metadata
from shared import geo
from shared.service import Runtime, create_app
from shared.settings import Settings

log = logging.getLogger(__name__)


async def warm_geography(_runtime: Runtime) -> None:
    """Load the offline gazetteer (a few seconds) in the background, not on the first request."""
    asyncio.get_running_loop().run_in_executor(None, geo.known_postcodes)


def auto_runner(runtime: Runtime, config: MatchingSettings):
    """When registration closes: start a run after the close event is committed (if configured)."""
    tasks: set[asyncio.Task] = set()

    async def run_later(programme_id: str) -> None:
        await asyncio.sleep(config.auto_run_delay_s)
        try:
            await service.start_run(runtime.sessions, programme_id)
        except service.RunInProgress:
            log.info("auto-run of %s skipped: a run is in progress", programme_id)
        except Exception:
            log.exception("auto-run of %s failed", programme_id)

    def on_closed(programme_id: str) -> None:
        if config.auto_run:
            task = asyncio.get_running_loop().create_task(run_later(programme_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    return on_closed


def build_app(settings: Settings, config: MatchingSettings | None = None) -> FastAPI:
    runtime = Runtime("matching", settings, metadata, consumers=[], on_start=[warm_geography])
    runtime.add_consumers(build_consumers(runtime.outbox, auto_runner(runtime, config or MatchingSettings())))
    return create_app(runtime, [router], title="girlsday matching")
