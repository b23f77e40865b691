"""The reporting dashboard (Dutch; ?lang=en for English) and its static files."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.reporting import store
from services.reporting.api import HERE, TABLES, aggregates_or_404
from services.reporting.domain import report
from services.reporting.domain.labels import format_number, labels
from services.reporting.domain.report import Aggregates
from shared import dates

pages = APIRouter(tags=["dashboard"])
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())


@pages.get("/static/chart.umd.min.js", include_in_schema=False)
async def chart_js() -> FileResponse:
    return FileResponse(
        HERE / "static" / "chart.umd.min.js", media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


@pages.get("/", response_class=HTMLResponse, summary="Dashboard (Dutch; ?lang=en for English)")
@pages.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(request: Request, programme: str | None = None, lang: str | None = None) -> HTMLResponse:
    lang, t = labels(lang)
    async with request.app.state.runtime.sessions() as session:
        known = await store.programmes(session)
    if programme is None:
        programme = report.current_programme(known, datetime.now(dates.AMSTERDAM).date())
    agg = await aggregates_or_404(request, programme) if programme else None
    context = {
        "lang": lang,
        "t": t,
        "other_lang": "en" if lang == "nl" else "nl",
        "programmes": known,
        "programme": None,
        "base": str(request.scope.get("root_path", "")),
        "csv_tables": TABLES,
        "refresh_ms": DASHBOARD_REFRESH_MS,
    }
    if agg is not None:
        figures = dashboard_figures(agg, lang, t)
        # `</` must not end the script element the JSON sits in
        data_json = json.dumps(figures, ensure_ascii=False).replace("</", "<\\/")
        context.update(figures, programme={"id": agg.programme_id, **dict(agg.programme)}, data_json=data_json)
    return HTMLResponse(templates.get_template("dashboard.html").render(**context))


DASHBOARD_REFRESH_MS = 5_000  # how often an open dashboard asks for the figures


@pages.get("/dashboard/{programme_id}/figures", summary="The dashboard's figures, for a dashboard that updates itself")
async def dashboard_data(request: Request, programme_id: str, lang: str | None = None) -> dict:
    lang, t = labels(lang)
    return dashboard_figures(await aggregates_or_404(request, programme_id), lang, t)


def dashboard_figures(agg: Aggregates, lang: str, t: dict[str, str]) -> dict:
    """Tiles, chart series and, for each chart, the same figures as a table (head and rows as shown)."""
    figures = report.summary(agg)
    totals, targets = figures["totals"], figures["targets"]
    n = lambda value: format_number(value, lang)  # noqa: E731
    tiles = [
        {
            "key": key,
            "label": t[key],
            "value": n(totals[key]),
            "target": n(targets[key]["target"]) if key in targets and targets[key]["target"] else None,
        }
        for key in ("pupils", "schools", "companies", "placed_pupils", "unplaced_pupils", "waitlisted_pupils")
    ]
    tiles.append({"key": "mean_distance_km", "label": t["mean_distance_km"], "value": n(figures["mean_distance_km"]), "target": None})
    target_rows = [{"figure": k, **v} for k, v in targets.items()]
    per_day = report.cumulative_days(agg.per_day)
    by_province = list(agg.breakdowns.get("province", []))
    effects = report.survey_shift(figures["surveys"]["effects"])
    pct = lambda r: f"{n(round(100 * r['actual'] / r['target'], 1))} %" if r.get("target") else "–"  # noqa: E731
    tables = {
        "targets": {
            "head": [t["figure"], t["actual"], t["target"], t["pct_of_target"]],
            "rows": [[t[r["figure"]], n(r["actual"]), n(r["target"] or None), pct(r)] for r in target_rows],
        },
        "days": {"head": [t["day"], t["pupils"]], "rows": [[dates.day(r["day"], lang), n(r["cumulative_pupils"])] for r in per_day]},
        "provinces": {
            "head": [t["province"], t["placed_pupils"], t["unplaced_pupils"]],
            "rows": [
                [t["unknown"] if r["province"] == "unknown" else r["province"], n(r.get("placed_pupils")), n(r.get("unplaced_pupils"))]
                for r in by_province
            ],
        },
        "survey": {"head": [t["measure"], t["pre"], t["post"]], "rows": [[r["label"], n(r["pre"]), n(r["post"])] for r in effects]},
    }
    return {
        "lang": lang,
        "labels": t,
        "as_of": dates.moment(datetime.now(UTC), lang),
        "tiles": tiles,
        "targets": target_rows,
        "per_day": per_day,
        "by_province": by_province,
        "effects": effects,
        "tables": tables,
    }
