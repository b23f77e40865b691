"""Folding the store's small aggregate cells into totals and breakdowns.

The store groups active groups by (province, level); summing those cells over one dimension gives
the breakdown by the other, and over both the totals. Activities are grouped by province and by
sector separately (a company may offer activities in several sectors, so its count does not add up).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

GROUP_MEASURES = (
    "schools",
    "groups",
    "pupils",
    "placed_pupils",
    "unplaced_pupils",
    "placed_groups",
    "unplaced_groups",
    "waitlisted_groups",
    "waitlisted_pupils",
    "split_groups",
    "placements",
)
ACTIVITY_MEASURES = ("companies", "activities", "capacity")


def _mean(total: float, n: int) -> float | None:
    return round(total / n, 2) if n else None


def fold(
    group_cells: Iterable[Mapping[str, Any]],
    distance_cells: Iterable[Mapping[str, Any]],
    activity_total: Mapping[str, Any],
    activity_by: Mapping[str, Iterable[Mapping[str, Any]]],
    placed_by_sector: Mapping[str, int],
) -> tuple[dict[str, int], dict[str, list[dict[str, Any]]], float | None]:
    totals = dict.fromkeys(GROUP_MEASURES, 0)
    by: dict[str, dict[str, dict[str, Any]]] = {"province": {}, "level": {}}
    for cell in group_cells:
        for measure in GROUP_MEASURES:
            value = int(cell.get(measure) or 0)
            totals[measure] += value
            for dim in by:
                row = by[dim].setdefault(cell[dim], {dim: cell[dim], **dict.fromkeys(GROUP_MEASURES, 0)})
                row[measure] += value

    distance = {dim: defaultdict(lambda: [0.0, 0]) for dim in by}
    all_sum, all_n = 0.0, 0
    for cell in distance_cells:
        s, n = float(cell.get("distance_sum") or 0.0), int(cell.get("distance_n") or 0)
        all_sum, all_n = all_sum + s, all_n + n
        for dim in by:
            distance[dim][cell[dim]][0] += s
            distance[dim][cell[dim]][1] += n
    for dim, rows in by.items():
        for key, row in rows.items():
            row["mean_distance_km"] = _mean(*distance[dim][key]) if key in distance[dim] else None

    for measure in ACTIVITY_MEASURES:
        totals[measure] = int(activity_total.get(measure) or 0)
    for cell in activity_by.get("province", ()):
        row = by["province"].setdefault(
            cell["province"],
            {"province": cell["province"], **dict.fromkeys(GROUP_MEASURES, 0), "mean_distance_km": None},
        )
        row.update({m: int(cell.get(m) or 0) for m in ACTIVITY_MEASURES})
    for row in by["province"].values():
        for measure in ACTIVITY_MEASURES:
            row.setdefault(measure, 0)

    sectors = {}
    for cell in activity_by.get("sector", ()):
        sectors[cell["sector"]] = {"sector": cell["sector"], **{m: int(cell.get(m) or 0) for m in ACTIVITY_MEASURES}, "placed_pupils": 0}
    for sector, placed in placed_by_sector.items():
        sectors.setdefault(sector, {"sector": sector, **dict.fromkeys(ACTIVITY_MEASURES, 0)})
        sectors[sector]["placed_pupils"] = int(placed or 0)

    breakdowns = {
        "province": [by["province"][k] for k in sorted(by["province"])],
        "level": [by["level"][k] for k in sorted(by["level"])],
        "sector": [sectors[k] for k in sorted(sectors)],
    }
    return totals, breakdowns, _mean(all_sum, all_n)
