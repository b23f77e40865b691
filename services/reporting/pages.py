"""The reporting dashboard (Dutch; ?lang=en for English) and its static files."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.reporting import store
from services.reporting.api import HERE, TABLES, aggregates_or_404, now_iso
from services.reporting.domain import report
from services.reporting.domain.labels import format_number, labels
from services.reporting.domain.report import Aggregates

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
    if programme is None and known:
        programme = known[0]["id"]
    agg = await aggregates_or_404(request, programme) if programme else None
    context = {
        "lang": lang,
        "t": t,
        "other_lang": "en" if lang == "nl" else "nl",
        "programmes": known,
        "programme": None,
        "as_of": now_iso(),
        "base": str(request.scope.get("root_path", "")),
        "csv_tables": TABLES,
    }
    if agg is not None:
        context.update(_dashboard_figures(agg, lang, t))
    return HTMLResponse(templates.get_template("dashboard.html").render(**context))


def _dashboard_figures(agg: Aggregates, lang: str, t: dict[str, str]) -> dict:
    figures = report.summary(agg)
    totals, targets = figures["totals"], figures["targets"]
    tiles = [
        {
            "key": key,
            "label": t[key],
            "value": format_number(totals[key], lang),
            "target": format_number(targets[key]["target"], lang) if key in targets and targets[key]["target"] else None,
        }
        for key in ("pupils", "schools", "companies", "placed_pupils", "unplaced_pupils", "waitlisted_pupils")
    ]
    tiles.append(
        {
            "key": "mean_distance_km",
            "label": t["mean_distance_km"],
            "value": format_number(figures["mean_distance_km"], lang),
            "target": None,
        }
    )
    data = {
        "lang": lang,
        "labels": t,
        "targets": [{"figure": k, **v} for k, v in targets.items()],
        "per_day": report.cumulative_days(agg.per_day),
        "by_province": list(agg.breakdowns.get("province", [])),
        "effects": report.survey_shift(figures["surveys"]["effects"]),
    }
    # `</` must not end the script element the JSON sits in
    data_json = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return {"programme": {"id": agg.programme_id, **dict(agg.programme)}, "tiles": tiles, "data_json": data_json}
