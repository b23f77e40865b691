"""Wiring of the registration service."""

from fastapi import FastAPI

from services.registration.api import router
from services.registration.store import metadata
from shared.service import Runtime, create_app
from shared.settings import Settings


def build_app(settings: Settings) -> FastAPI:
    runtime = Runtime("registration", settings, metadata)
    return create_app(runtime, [router], title="girlsday registration")
