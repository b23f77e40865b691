"""Wiring of the reporting service: projections consumer, partner KPI publisher, HTTP."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.api import router
from services.reporting.config import ReportingSettings
from services.reporting.handlers import projections
from services.reporting.kpi import KpiPublisher
from services.reporting.pages import pages
from services.reporting.store import metadata
from shared.service import Runtime, create_app
from shared.settings import Settings

DESCRIPTION = """Live projections of every stream: figures per programme (target vs actual,
breakdowns, registrations per day, surveys), CSV exports, a dashboard, and the partner event
`reporting.public.<programme>.kpi.updated` (aggregated, small counts suppressed)."""


def build_app(settings: Settings, reporting: ReportingSettings | None = None) -> FastAPI:
    reporting = reporting or ReportingSettings()
    runtime = Runtime("reporting", settings, metadata, consumers=[projections])
    publisher = KpiPublisher(
        runtime.sessions,
        runtime.outbox,
        interval=reporting.kpi_interval_s,
        threshold=reporting.suppression_threshold,
        base=reporting.rounding_base,
    )
    runtime.add_worker(publisher)
    app = create_app(runtime, [router, pages], title="girlsday reporting", description=DESCRIPTION)
    app.state.kpi_publisher = publisher
    app.state.reporting_settings = reporting
    return app
