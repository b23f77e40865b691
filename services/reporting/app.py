"""Wiring of the reporting service."""

from fastapi import FastAPI

from services.reporting.api import router
from services.reporting.handlers import projections
from services.reporting.store import metadata
from shared.service import Runtime, create_app
from shared.settings import Settings


def build_app(settings: Settings) -> FastAPI:
    runtime = Runtime("reporting", settings, metadata, consumers=[projections])
    return create_app(runtime, [router], title="girlsday reporting")
