"""Explanations: which options a group or pupil had, why it got this one, why not its first choice."""

from __future__ import annotations

from .model import Activity, Allocation, Group, Part, Pupil, haversine_km, unsuitability


def _km(lat, lon, a: Activity) -> float:
    return round(float(haversine_km(lat, lon, a.lat, a.lon)), 1)


def explain_group(group: Group, activities: list[Activity], groups: list[Group], parts: list[Part],
                  waitlist: dict[str, str]) -> dict:  # fmt: skip
    acts = {a.id: a for a in activities}
    by_id = {g.id: g for g in groups}
    mine = [p for p in parts if p.group_id == group.id]
    options = []
    for a in activities:
        d = _km(group.lat, group.lon, a)
        why = unsuitability(group, a, d)
        rank = group.preferences.index(a.id) if a.id in group.preferences else None
        if why is None or rank is not None:
            options.append({"activity_id": a.id, "distance_km": d, "preference_rank": rank, "unsuitable": why})
    options.sort(key=lambda o: (o["unsuitable"] is not None, o["preference_rank"] is None,
                                o["preference_rank"] or 0, o["distance_km"]))  # fmt: skip
    if not mine:
        why = f"Not placed: {waitlist.get(group.id, 'not in this allocation')}."
    elif len(mine) > 1:
        why = (f"Split into {len(mine)} parts ({', '.join(str(p.pupils) for p in mine)} pupils): no suitable "
               f"activity with room had {group.pupils} places left.")  # fmt: skip
    elif mine[0].rank is not None:
        why = f"Choice number {mine[0].rank + 1} of the group, {mine[0].distance_km:.0f} km away."
    else:
        why = f"The best suitable activity with room, {mine[0].distance_km:.0f} km away."
    first = group.preferences[0] if group.preferences else None
    why_not = None
    if first and not any(p.activity_id == first for p in mine):
        a = acts.get(first)
        if a is None:
            why_not = "The first choice is not (or no longer) offered."
        elif (reason := unsuitability(group, a, _km(group.lat, group.lon, a))) is not None:
            why_not = f"The first choice does not fit: {reason}."
        else:
            there = [p for p in parts if p.activity_id == first]
            closer = all(p.distance_km <= _km(group.lat, group.lon, a) for p in there)
            others = {by_id[p.group_id].school_id for p in there if p.group_id in by_id}
            why_not = (f"The first choice was full with groups closer to the company ({len(there)} groups, "
                       f"{len(others)} schools)." if closer and there else
                       "The first choice was full: placing this group there would have left more pupils "
                       "without a place or cost more splits.")  # fmt: skip
    return {"group_id": group.id, "placed": [_part(p) for p in mine],
            "why": why, "why_not_first_choice": why_not, "options": options[:20]}  # fmt: skip


def _part(p: Part) -> dict:
    return {"activity_id": p.activity_id, "pupils": p.pupils, "distance_km": p.distance_km, "preference_rank": p.rank}


def explain_pupil(pupil: Pupil, activities: list[Activity], allocation: Allocation, band_km: float) -> dict:
    acts = {a.id: a for a in activities}
    own = allocation.assignment.get(pupil.id)
    options = [{"activity_id": aid, "distance_km": _km(pupil.lat, pupil.lon, acts[aid]) if aid in acts else None,
                "preference_rank": r} for r, aid in enumerate(pupil.preferences)]  # fmt: skip
    if own is None:
        why = f"Not placed: {allocation.waitlist.get(pupil.id, 'not in this allocation')}."
    else:
        why = f"Choice number {pupil.preferences.index(own) + 1}: the best choice that had a place for her."
    why_not = None
    if pupil.preferences and own != pupil.preferences[0]:
        first = acts.get(pupil.preferences[0])
        if first is None or first.capacity <= 0:
            why_not = "The first choice is not (or no longer) offered."
        else:
            band = int(_km(pupil.lat, pupil.lon, first) // band_km)
            why_not = (f"The first choice was full with pupils who come from closer by (distance band "
                       f"{band} of {band_km:.0f} km) or drew an earlier lottery number in the same band.")  # fmt: skip
    return {"group_id": pupil.group_id, "pupil_ref": pupil.ref or pupil.id, "activity_id": own, "why": why,
            "why_not_first_choice": why_not, "options": options}  # fmt: skip
