"""Wiring of the matching service."""

from fastapi import FastAPI

from services.matching.handlers import readmodel
from services.matching.store import metadata
from shared.service import Runtime, create_app
from shared.settings import Settings


def build_app(settings: Settings) -> FastAPI:
    runtime = Runtime("matching", settings, metadata, consumers=[readmodel])
    return create_app(runtime, [], title="girlsday matching")
