"""Wiring of the matching service."""

import asyncio

from fastapi import FastAPI

from services.matching.api import router
from services.matching.handlers import build_consumers
from services.matching.store import metadata
from shared import geo
from shared.service import Runtime, create_app
from shared.settings import Settings


async def warm_geography(_runtime: Runtime) -> None:
    """Load the offline gazetteer (a few seconds) in the background, not on the first request."""
    asyncio.get_running_loop().run_in_executor(None, geo.known_postcodes)


def build_app(settings: Settings) -> FastAPI:
    runtime = Runtime("matching", settings, metadata, consumers=[], on_start=[warm_geography])
    runtime.add_consumers(build_consumers(runtime.outbox))
    return create_app(runtime, [router], title="girlsday matching")
