"""Figures of one programme: the summary, target vs actual, tables, and the public KPIs.

Input is the aggregates the store computes from entity states (plain dicts); output is plain data
for JSON, CSV, the dashboard and partner events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .suppression import DEFAULT_BASE, DEFAULT_THRESHOLD, Relation, Suppressed, round_to_base, suppress

TOTALS = (
    "schools",
    "groups",
    "pupils",
    "companies",
    "activities",
    "capacity",
    "placements",
    "placed_groups",
    "placed_pupils",
    "unplaced_groups",
    "unplaced_pupils",
    "waitlisted_groups",
    "waitlisted_pupils",
    "split_groups",
)
TARGETS = {"pupils": "target_pupils", "schools": "target_schools", "companies": "target_companies"}
BREAKDOWNS = ("province", "level", "sector")
UNKNOWN = "unknown"


@dataclass
class Aggregates:
    programme_id: str
    programme: Mapping[str, Any]
    totals: Mapping[str, int]
    mean_distance_km: float | None = None
    breakdowns: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    per_day: Sequence[Mapping[str, Any]] = ()
    run: Mapping[str, Any] | None = None
    survey: Mapping[str, Any] | None = None
    responses: Mapping[str, int] = field(default_factory=dict)


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 4) if part is not None and whole else None


def summary(agg: Aggregates) -> dict[str, Any]:
    totals = {name: int(agg.totals.get(name, 0) or 0) for name in TOTALS}
    targets = {
        name: {
            "target": agg.programme.get(key),
            "actual": totals[name],
            "ratio": _ratio(totals[name], agg.programme.get(key)),
        }
        for name, key in TARGETS.items()
    }
    return {
        "programme": {"id": agg.programme_id, **dict(agg.programme)},
        "totals": totals,
        "placed_ratio": _ratio(totals["placed_pupils"], totals["pupils"]),
        "mean_distance_km": None if agg.mean_distance_km is None else round(agg.mean_distance_km, 2),
        "targets": targets,
        "matching_run": dict(agg.run) if agg.run else None,
        "surveys": survey_figures(agg.survey, agg.responses),
    }


def survey_figures(survey: Mapping[str, Any] | None, responses: Mapping[str, int]) -> dict[str, Any]:
    survey = survey or {}
    invited, responded = survey.get("invited", {}), survey.get("responded", {})
    phases = {}
    for phase in ("pre", "post"):
        answered = responded.get(phase, responses.get(phase, 0))
        phases[phase] = {
            "invited": invited.get(phase),
            "responded": answered,
            "responses_recorded": responses.get(phase, 0),
            "response_rate": _ratio(answered, invited.get(phase)),
        }
    return {"phases": phases, "paired": survey.get("paired", 0), "effects": survey.get("effects", {})}


def cumulative_days(per_day: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows, groups, pupils = [], 0, 0
    for day in sorted(per_day, key=lambda row: row["day"]):
        groups += day["groups"]
        pupils += day["pupils"]
        rows.append({**day, "cumulative_groups": groups, "cumulative_pupils": pupils})
    return rows


def current_programme(programmes: Sequence[Mapping[str, Any]], today: date) -> str | None:
    """The programme a dashboard opens on: the next one still to come (or today's), else the last one held."""

    def day(p):
        value = p.get("event_date")
        return value if isinstance(value, date) else date.fromisoformat(str(value)) if value else date.min

    coming = [p for p in programmes if day(p) >= today]
    if coming:
        return min(coming, key=day)["id"]
    return max(programmes, key=day)["id"] if programmes else None


def effect_rows(effects: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"measure": name, **dict(values)} for name, values in sorted(effects.items())]


def tables(agg: Aggregates) -> dict[str, list[dict[str, Any]]]:
    """Every table the service exports, as rows of plain values."""
    report = summary(agg)
    summary_rows = [{"figure": k, "value": v} for k, v in report["totals"].items()]
    summary_rows += [
        {"figure": "placed_ratio", "value": report["placed_ratio"]},
        {"figure": "mean_distance_km", "value": report["mean_distance_km"]},
    ]
    surveys = report["surveys"]
    return {
        "summary": summary_rows,
        "targets": [{"figure": k, **v} for k, v in report["targets"].items()],
        **{f"by_{dim}": [dict(row) for row in agg.breakdowns.get(dim, ())] for dim in BREAKDOWNS},
        "registrations_per_day": cumulative_days(agg.per_day),
        "survey_responses": [{"phase": p, **v} for p, v in surveys["phases"].items()],
        "survey_effects": effect_rows(surveys["effects"]),
    }


def kpi_counts(agg: Aggregates) -> dict[str, int]:
    """The true counts behind the public figures, with the parts that are never published."""
    t = {name: int(agg.totals.get(name, 0) or 0) for name in TOTALS}
    provinces = {f"placed_pupils.{row['province']}": int(row.get("placed_pupils", 0) or 0) for row in agg.breakdowns.get("province", ())}
    return {
        "pupils_registered": t["pupils"],
        "groups_registered": t["groups"],
        "schools_registered": t["schools"],
        "companies_registered": t["companies"],
        "activities": t["activities"],
        "capacity": t["capacity"],
        "pupils_placed": t["placed_pupils"],
        "pupils_unplaced": t["unplaced_pupils"],
        "pupils_waitlisted": t["waitlisted_pupils"],
        "split_groups": t["split_groups"],
        **provinces,
        UNPUBLISHED: max(t["unplaced_pupils"] - t["waitlisted_pupils"], 0),
    }


UNPUBLISHED = "pupils_unplaced_not_waitlisted"


def kpi_relations(names) -> list[Relation]:
    """The additive relations between the public counts (`names`: the figures there are)."""
    provinces = sorted(n for n in names if n.startswith("placed_pupils."))
    relations = [
        Relation("pupils_registered", ["pupils_placed", "pupils_unplaced"]),
        Relation("pupils_unplaced", ["pupils_waitlisted", UNPUBLISHED]),
    ]
    return relations + ([Relation("pupils_placed", provinces)] if provinces else [])


def public_count_names(names) -> list[str]:
    """Which public figures are counts (the rest are targets, ratios and means)."""
    counts = {"pupils_registered", "groups_registered", "schools_registered", "companies_registered", "activities", "capacity"}
    counts |= {"pupils_placed", "pupils_unplaced", "pupils_waitlisted", "split_groups"}
    return sorted(n for n in names if n in counts or n.startswith("placed_pupils."))


def public_kpis(agg: Aggregates, threshold: int = DEFAULT_THRESHOLD, base: int = DEFAULT_BASE) -> Suppressed:
    """Aggregated figures partners and the public may see (domain/suppression.py): small counts
    hidden and never recomputable, the others rounded to `base`; ratios and means from those."""
    t = {name: int(agg.totals.get(name, 0) or 0) for name in TOTALS}
    truth = kpi_counts(agg)
    counts = {name: value for name, value in truth.items() if name != UNPUBLISHED}
    relations = kpi_relations(counts)
    public = {
        "pupils_target": agg.programme.get("target_pupils"),
        "schools_target": agg.programme.get("target_schools"),
        "companies_target": agg.programme.get("target_companies"),
    }
    counted = suppress(counts, relations, public=public, unpublished={UNPUBLISHED: truth[UNPUBLISHED]}, threshold=threshold, base=base)
    shown = counted.figures

    def published(n: int | None) -> int | None:  # a count that is not itself a public figure
        return None if n is None or n < threshold else round_to_base(n, base)

    report = summary(agg)
    phases = report["surveys"]["phases"]
    derived = {
        "placed_ratio": _ratio(shown["pupils_placed"], shown["pupils_registered"]),
        "pupils_target_ratio": _ratio(shown["pupils_registered"], public["pupils_target"]),
        "mean_distance_km": (
            round(agg.mean_distance_km)
            if agg.mean_distance_km is not None and shown["pupils_placed"] is not None and t["placements"] >= threshold
            else None
        ),
        **{
            f"survey_response_rate.{p}": _ratio(published(phases[p]["responded"]), published(phases[p]["invited"])) for p in ("pre", "post")
        },
    }
    figures = {**shown, **{name: None if value is None else round(value, 2) for name, value in derived.items()}}
    return Suppressed(figures, sorted({*counted.hidden, *(name for name, value in derived.items() if value is None)}))


def survey_shift(effects: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pre and post figure per survey item, for the shift chart (suppressed items left out).

    Likert items carry means (`mean_pre`/`mean_post`), yes/no intentions shares
    (`share_yes_pre`/`share_yes_post`, shown as percentages).
    """
    rows = []
    for item, block in sorted(effects.items()):
        if block.get("suppressed"):
            continue
        for pre_key, post_key, scale, unit in (
            ("mean_pre", "mean_post", 1, ""),
            ("share_yes_pre", "share_yes_post", 100, " %"),
            ("pre", "post", 1, ""),
        ):
            pre, post = block.get(pre_key), block.get(post_key)
            if isinstance(pre, (int, float)) and isinstance(post, (int, float)):
                rows.append({"item": item, "label": f"{item}{unit}", "pre": round(pre * scale, 2), "post": round(post * scale, 2)})
                break
    return rows


def energy_summary(figures: Mapping[str, Any]) -> dict[str, Any]:
    """An energy-transition programme's report: participants against the programme's people target
    (for these programmes `target_pupils` counts participants), activities given, and retention
    per employer and per sector and period (retention = kept / women in technical roles at the
    period's start)."""
    programme = figures["programme"]
    by_group = {k: int(v) for k, v in figures["participants_by_target_group"].items()}
    participants = sum(by_group.values())
    employers, sectors = [], {}
    for row in figures["retention"]:
        state = row.get("company_state") or {}
        company_sectors = list((state.get("fields") or {}).get("sectors") or []) or [UNKNOWN]
        employers.append({"company_id": row["company_id"], "company": row["company"], "sector": company_sectors[0], "period": row["period"],
                          "women_technical": row["women_technical"], "hired": row["hired"], "kept": row["kept"],
                          "retention": _ratio(row["kept"], row["women_technical"])})  # fmt: skip
        cell = sectors.setdefault((company_sectors[0], row["period"]), {"women_technical": 0, "hired": 0, "kept": 0, "employers": 0})
        for name in ("women_technical", "hired", "kept"):
            cell[name] += row[name]
        cell["employers"] += 1
    by_sector = [{"sector": sector, "period": period, **cell, "retention": _ratio(cell["kept"], cell["women_technical"])}
                 for (sector, period), cell in sorted(sectors.items())]  # fmt: skip
    return {
        "programme": {"id": programme.get("id"), "name": programme.get("name"), "kind": programme.get("kind")},
        "participants": {
            "target": programme.get("target_pupils"),
            "actual": participants,
            "ratio": _ratio(participants, programme.get("target_pupils")),
            "by_target_group": by_group,
            "erased": int(figures["participants_erased"]),
        },  # fmt: skip
        "activities_given": int(figures["activities_given"]),
        "attendances": int(figures["attendances"]),
        "absences": int(figures["absences"]),
        "retention_by_employer": employers,
        "retention_by_sector": by_sector,
        "indicators": list(figures["indicators"]),
    }
