"""HTTP routes of the reporting service: JSON figures, CSV exports, the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.reporting import store
from services.reporting.config import ReportingSettings
from services.reporting.domain import report
from services.reporting.domain.csv_export import to_csv
from services.reporting.domain.labels import COLUMNS_NL, dutch_rows
from services.reporting.domain.report import Aggregates
from shared.problems import Problem

HERE = Path(__file__).resolve().parent
TABLES = ("summary", "targets", "by_province", "by_level", "by_sector", "registrations_per_day", "survey_responses", "survey_effects")

router = APIRouter(prefix="/api", tags=["reporting"])


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def aggregates_or_404(request: Request, programme_id: str) -> Aggregates:
    async with request.app.state.runtime.sessions() as session:
        agg = await store.aggregates(session, programme_id)
    if agg is None:
        raise Problem(404, "unknown_programme", f"reporting knows no programme {programme_id!r}")
    return agg


@router.get("/summary", summary="Counts over every programme, and the programmes")
async def overview(request: Request) -> dict:
    async with request.app.state.runtime.sessions() as session:
        counts = await store.overview(session)
        programmes = await store.programmes(session)
    return {**counts, "programmes": programmes}


@router.get("/programmes", summary="Programmes reporting knows")
async def programmes(request: Request) -> list[dict]:
    async with request.app.state.runtime.sessions() as session:
        return await store.programmes(session)


@router.get("/programmes/{programme_id}/summary", summary="Summary, target vs actual, surveys")
async def programme_summary(request: Request, programme_id: str) -> dict:
    return {**report.summary(await aggregates_or_404(request, programme_id)), "as_of": now_iso()}


@router.get("/programmes/{programme_id}/breakdowns/{dimension}", summary="By province, level or sector")
async def breakdown(request: Request, programme_id: str, dimension: Literal["province", "level", "sector"]) -> list[dict]:
    agg = await aggregates_or_404(request, programme_id)
    return list(agg.breakdowns.get(dimension, []))


@router.get("/programmes/{programme_id}/registrations-per-day", summary="Groups and pupils per day")
async def per_day(request: Request, programme_id: str) -> list[dict]:
    return report.cumulative_days((await aggregates_or_404(request, programme_id)).per_day)


@router.get("/programmes/{programme_id}/energy", summary="An energy-transition programme: participants, activities, retention, indicators")
async def energy(request: Request, programme_id: str) -> dict:
    async with request.app.state.runtime.sessions() as session:
        figures = await store.energy_figures(session, programme_id)
    if figures is None:
        raise Problem(404, "unknown_programme", f"reporting knows no programme {programme_id!r}")
    return {**report.energy_summary(figures), "as_of": now_iso()}


@router.get("/programmes/{programme_id}/kpi", summary="Public figures, small counts suppressed")
async def public_kpi(request: Request, programme_id: str) -> dict:
    config = getattr(request.app.state, "reporting_settings", ReportingSettings())
    threshold = config.suppression_threshold
    kpis = report.public_kpis(await aggregates_or_404(request, programme_id), threshold, config.rounding_base)
    return {
        "programme_id": programme_id,
        "as_of": now_iso(),
        "figures": kpis.figures,
        "suppressed": kpis.hidden,
        "threshold": threshold,
        "rounding_base": config.rounding_base,
    }


@router.get("/programmes/{programme_id}/{table}.csv", summary="A table as CSV (dialect=excel-nl for Dutch Excel)")
async def table_csv(
    request: Request,
    programme_id: str,
    table: str,
    dialect: Literal["plain", "excel-nl"] = Query("plain"),
    lang: Literal["nl", "en"] | None = Query(None, description="nl: Dutch column names and words (ja/nee); default: English keys"),
) -> Response:
    if table not in TABLES:
        raise Problem(404, "unknown_table", f"unknown table {table!r}; tables: {', '.join(TABLES)}", tables=list(TABLES))
    rows = report.tables(await aggregates_or_404(request, programme_id))[table]
    suffix = "-excel-nl" if dialect == "excel-nl" else ""
    if lang == "nl":
        text = to_csv(dutch_rows(rows), dialect=dialect, headers=COLUMNS_NL, booleans=("ja", "nee"))
    else:
        text = to_csv(rows, dialect=dialect, booleans=("yes", "no") if lang == "en" else ("1", "0"))
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{programme_id}-{table}{suffix}.csv"'},
    )
