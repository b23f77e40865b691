"""The rules a placement by hand must keep: the same hard rules the engine keeps.

Staff may move a group, or place a waiting one, anywhere the rules allow; a placement that breaks
one is refused with the rule (a code the pages and the API word in Dutch or English).
"""

from __future__ import annotations

from .model import Activity, Group, haversine_km, unsuitable_because


def placement_problems(group: Group, parts: list[tuple[str, int]], activities: dict[str, Activity],
                       free: dict[str, int]) -> list[tuple[str, dict]]:  # fmt: skip
    """Every rule the parts [(activity id, pupils)] break for ``group`` as [(code, figures)]; empty
    when the placement is allowed. ``free``: places left at each activity without this group."""
    problems: list[tuple[str, dict]] = []
    total = sum(n for _, n in parts)
    if not parts:
        return [("no_parts", {})]
    if total != group.pupils:
        problems.append(("pupil_total", {"given": total, "pupils": group.pupils}))
    if len(parts) > group.max_parts:
        problems.append(("max_parts", {"parts": len(parts), "max": group.max_parts}))
    if len({a for a, _ in parts}) < len(parts):
        problems.append(("same_activity_twice", {}))
    if len(parts) > 1 and any(n < group.min_part_size for _, n in parts):
        problems.append(("min_part_size", {"min": group.min_part_size}))
    for activity_id, n in parts:
        a = activities.get(activity_id)
        if a is None:
            problems.append(("unknown_activity", {"activity_id": activity_id}))
            continue
        km = float(haversine_km(group.lat, group.lon, a.lat, a.lon))
        why = unsuitable_because(group, a, km)
        if why is not None and not (why[0] == "too_small_whole" and len(parts) > 1):
            problems.append((why[0], why[1] | {"activity_id": activity_id}))
        elif n > free.get(activity_id, 0):
            problems.append(("no_room", {"activity_id": activity_id, "free": max(0, free.get(activity_id, 0)), "pupils": n}))
    return problems
