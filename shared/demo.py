"""`girlsday up --demo`: seed a demo programme through the public HTTP APIs."""

from __future__ import annotations

from shared.settings import Settings


def seed(settings: Settings) -> str:
    return "demo data: not yet available"
