"""HTTP routes of the reporting service: JSON figures, CSV exports, the dashboard."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.reporting import store
from services.reporting.config import ReportingSettings
from services.reporting.domain import report
from services.reporting.domain.csv_export import to_csv
from services.reporting.domain.labels import format_number, labels
from services.reporting.domain.report import Aggregates

HERE = Path(__file__).resolve().parent
TABLES = ("summary", "targets", "by_province", "by_level", "by_sector", "registrations_per_day",
          "survey_responses", "survey_effects")
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())

router = APIRouter(prefix="/api", tags=["reporting"])
pages = APIRouter(tags=["dashboard"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def _aggregates(request: Request, programme_id: str) -> Aggregates:
    async with request.app.state.runtime.sessions() as session:
        agg = await store.aggregates(session, programme_id)
    if agg is None:
        raise HTTPException(404, f"unknown programme {programme_id!r}")
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
    return {**report.summary(await _aggregates(request, programme_id)), "as_of": _now()}


@router.get("/programmes/{programme_id}/breakdowns/{dimension}", summary="By province, level or sector")
async def breakdown(request: Request, programme_id: str, dimension: Literal["province", "level", "sector"]) -> list[dict]:
    agg = await _aggregates(request, programme_id)
    return list(agg.breakdowns.get(dimension, []))


@router.get("/programmes/{programme_id}/registrations-per-day", summary="Groups and pupils per day")
async def per_day(request: Request, programme_id: str) -> list[dict]:
    return report.cumulative_days((await _aggregates(request, programme_id)).per_day)


@router.get("/programmes/{programme_id}/kpi", summary="Public figures, small counts suppressed")
async def public_kpi(request: Request, programme_id: str) -> dict:
    threshold = getattr(request.app.state, "reporting_settings", ReportingSettings()).suppression_threshold
    kpis = report.public_kpis(await _aggregates(request, programme_id), threshold)
    return {"programme_id": programme_id, "as_of": _now(), "figures": kpis.figures,
            "suppressed": kpis.hidden, "threshold": threshold}


@router.get("/programmes/{programme_id}/{table}.csv", summary="A table as CSV (dialect=excel-nl for Dutch Excel)")
async def table_csv(request: Request, programme_id: str, table: str,
                    dialect: Literal["plain", "excel-nl"] = Query("plain")) -> Response:
    if table not in TABLES:
        raise HTTPException(404, f"unknown table {table!r}; tables: {', '.join(TABLES)}")
    rows = report.tables(await _aggregates(request, programme_id))[table]
    suffix = "-excel-nl" if dialect == "excel-nl" else ""
    return Response(
        to_csv(rows, dialect=dialect).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{programme_id}-{table}{suffix}.csv"'},
    )


@pages.get("/static/chart.umd.min.js", include_in_schema=False)
async def chart_js() -> FileResponse:
    return FileResponse(HERE / "static" / "chart.umd.min.js", media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


@pages.get("/", response_class=HTMLResponse, summary="Dashboard (Dutch; ?lang=en for English)")
@pages.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(request: Request, programme: str | None = None, lang: str | None = None) -> HTMLResponse:
    lang, t = labels(lang)
    async with request.app.state.runtime.sessions() as session:
        known = await store.programmes(session)
    if programme is None and known:
        programme = known[0]["id"]
    agg = await _aggregates(request, programme) if programme else None
    context = {"lang": lang, "t": t, "other_lang": "en" if lang == "nl" else "nl", "programmes": known,
               "programme": None, "as_of": _now(), "base": str(request.scope.get("root_path", "")),
               "csv_tables": TABLES}
    if agg is not None:
        context.update(_dashboard_figures(agg, lang, t))
    return HTMLResponse(templates.get_template("dashboard.html").render(**context))


def _dashboard_figures(agg: Aggregates, lang: str, t: dict[str, str]) -> dict:
    figures = report.summary(agg)
    totals, targets = figures["totals"], figures["targets"]
    tiles = [
        {"key": key, "label": t[key], "value": format_number(totals[key], lang),
         "target": format_number(targets[key]["target"], lang) if key in targets and targets[key]["target"] else None}
        for key in ("pupils", "schools", "companies", "placed_pupils", "unplaced_pupils", "waitlisted_pupils")
    ]
    tiles.append({"key": "mean_distance_km", "label": t["mean_distance_km"],
                  "value": format_number(figures["mean_distance_km"], lang), "target": None})
    data = {
        "lang": lang, "labels": t,
        "targets": [{"figure": k, **v} for k, v in targets.items()],
        "per_day": report.cumulative_days(agg.per_day),
        "by_province": list(agg.breakdowns.get("province", [])),
        "effects": report.survey_shift(figures["surveys"]["effects"]),
    }
    # `</` must not end the script element the JSON sits in
    data_json = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return {"programme": {"id": agg.programme_id, **dict(agg.programme)}, "tiles": tiles, "data_json": data_json}
