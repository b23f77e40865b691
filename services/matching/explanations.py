"""Explanations of a placement for people: in Dutch (English with ``lang="en"``), with the names
of the school, company and activity from matching's own read model (organisations' names are not
personal data; no person is named). Built on the engine's own rules and figures, so what it says
is what the engine did: the options considered, which preference each meets, why this one, and
why not the first choice ("vol met groepen die dichterbij zijn", "geen aanbod in sector X binnen
30 km", ...).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.matching.domain.model import Group, Part, haversine_km, preference_level, unsuitable_because
from shared.sectors import sector_name

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

T = {
    "nl": {
        "level": "{n}e keuze",
        "named": "door de school genoemde activiteit",
        "sector": "sector {sector}",
        "none": "geen van de voorkeuren",
        "offered": "{n} activiteit(en) binnen {km} km",
        "not_offered": "geen aanbod in sector {sector} binnen {km} km",
        "not_offered_anywhere": "geen aanbod in sector {sector} in dit programma",
        "placed_rank": "Geplaatst bij {title} ({company}), {km} km van school: dit is de {n}e keuze van de groep ({pref}).",
        "placed_unranked": "Geplaatst bij {title} ({company}), {km} km van school: geen activiteit die past bij een voorkeur"
        " van de groep had plaats binnen bereik; dit is de beste passende activiteit met plaats.",
        "placed_no_prefs": "Geplaatst bij {title} ({company}), {km} km van school: de groep gaf geen voorkeur op; dit is de"
        " dichtstbijzijnde passende activiteit met plaats.",
        "split": "Gesplitst in {n} delen ({sizes} leerlingen): geen passende activiteit met plaats had nog {pupils} plaatsen vrij.",
        "pinned": " Een medewerker heeft deze plaatsing vastgezet.",
        "waiting_full": "Nog niet geplaatst: elke passende activiteit binnen bereik is vol.",
        "waiting_none": "Nog niet geplaatst: er is geen passende activiteit binnen bereik.",
        "waiting_location": "Nog niet geplaatst: de locatie van de school is onbekend ({why}).",
        "waiting_other": "Nog niet geplaatst: {why}.",
        "not_in_run": "Deze groep zat niet in deze indeling.",
        "no_run": "Nog niet ingedeeld: er is nog geen indeling gemaakt.",
        "first_full_closer": "De eerste keuze ({pref}) was vol met groepen die dichterbij zijn ({groups} groepen van {schools} scholen).",
        "first_full": "De eerste keuze ({pref}) was vol: de groep daar plaatsen had meer leerlingen zonder plaats of meer"
        " splitsingen gekost.",
        "first_unsuitable": "De eerste keuze ({pref}) past niet: {why}.",
        "first_not_offered": "De eerste keuze ({pref}): {why}.",
        "first_slot": "Geen plaats in de {part} bij de eerste keuze ({pref}).",
        "status_chosen": "gekozen",
        "status_full": "vol",
        "status_room": "{n} plaatsen vrij",
        "morning": "ochtend",
        "afternoon": "middag",
        "rule_cancelled": "de activiteit is geannuleerd of heeft geen plaatsen",
        "rule_level": "niet voor dit schooltype",
        "rule_min_age": "voor leerlingen vanaf {age} jaar",
        "rule_max_age": "voor leerlingen tot en met {age} jaar",
        "rule_slot": "op een tijd waarop de groep niet kan",
        "rule_travel": "{km} km van school, verder dan de grens van {limit} km",
        "rule_too_small_whole": "{places} plaatsen, minder dan de {pupils} leerlingen van de groep, en de groep mag niet gesplitst worden",
        "rule_too_small_part": "{places} plaatsen, minder dan het kleinste deel dat mag ({min_part})",
        "rule_pupil_total": "de delen tellen samen {given} leerlingen, de groep heeft er {pupils}",
        "rule_max_parts": "{parts} delen, de groep mag in hoogstens {max} delen",
        "rule_same_activity_twice": "twee delen bij dezelfde activiteit",
        "rule_min_part_size": "een deel is kleiner dan {min} leerlingen",
        "rule_unknown_activity": "deze activiteit bestaat niet (meer) in dit programma",
        "rule_no_room": "nog {free} plaatsen vrij, te weinig voor {pupils} leerlingen",
        "rule_no_parts": "geen activiteit gekozen",
    },
    "en": {
        "level": "choice {n}",
        "named": "activity named by the school",
        "sector": "sector {sector}",
        "none": "none of the preferences",
        "offered": "{n} activit(y/ies) within {km} km",
        "not_offered": "nothing on offer in sector {sector} within {km} km",
        "not_offered_anywhere": "nothing on offer in sector {sector} in this programme",
        "placed_rank": "Placed at {title} ({company}), {km} km from school: choice {n} of the group ({pref}).",
        "placed_unranked": "Placed at {title} ({company}), {km} km from school: no activity meeting a preference of the group"
        " had room within reach; this is the best suitable activity with room.",
        "placed_no_prefs": "Placed at {title} ({company}), {km} km from school: the group stated no preference; this is the"
        " nearest suitable activity with room.",
        "split": "Split into {n} parts ({sizes} pupils): no suitable activity with room had {pupils} places left.",
        "pinned": " A staff member pinned this placement.",
        "waiting_full": "Not placed yet: every suitable activity within reach is full.",
        "waiting_none": "Not placed yet: there is no suitable activity within reach.",
        "waiting_location": "Not placed yet: the school's location is unknown ({why}).",
        "waiting_other": "Not placed yet: {why}.",
        "not_in_run": "This group was not in this allocation.",
        "no_run": "Not allocated yet: no allocation has been made.",
        "first_full_closer": "The first choice ({pref}) was full with groups closer by ({groups} groups from {schools} schools).",
        "first_full": "The first choice ({pref}) was full: placing the group there would have left more pupils without a place"
        " or cost more splits.",
        "first_unsuitable": "The first choice ({pref}) does not fit: {why}.",
        "first_not_offered": "The first choice ({pref}): {why}.",
        "first_slot": "No room in the {part} at the first choice ({pref}).",
        "status_chosen": "chosen",
        "status_full": "full",
        "status_room": "{n} places free",
        "morning": "morning",
        "afternoon": "afternoon",
        "rule_cancelled": "the activity is cancelled or has no places",
        "rule_level": "not for this type of school",
        "rule_min_age": "for pupils aged {age} and up",
        "rule_max_age": "for pupils up to {age}",
        "rule_slot": "at a time the group is not available",
        "rule_travel": "{km} km from school, beyond the limit of {limit} km",
        "rule_too_small_whole": "{places} places, fewer than the group's {pupils} pupils, and the group may not be split",
        "rule_too_small_part": "{places} places, fewer than the smallest part allowed ({min_part})",
        "rule_pupil_total": "the parts add up to {given} pupils, the group has {pupils}",
        "rule_max_parts": "{parts} parts, the group may be split into {max} at most",
        "rule_same_activity_twice": "two parts at the same activity",
        "rule_min_part_size": "a part has fewer than {min} pupils",
        "rule_unknown_activity": "this activity does not exist (any more) in this programme",
        "rule_no_room": "{free} places left, too few for {pupils} pupils",
        "rule_no_parts": "no activity chosen",
    },
}


def text(lang: str, key: str, **figures) -> str:
    return T["en" if lang == "en" else "nl"][key].format(**figures)


def rule(lang: str, code: str, figures: dict) -> str:
    """A broken rule in words (codes: ``model.unsuitable_because``, ``rules.placement_problems``)."""
    return text(lang, f"rule_{code}", **figures)


def slot_words(data: dict, lang: str) -> str | None:
    """ "do 8 april 9:00-12:00" style, Europe/Amsterdam."""
    start, end = data.get("slot_start"), data.get("slot_end")
    if not start:
        return None
    s = datetime.fromisoformat(start).astimezone(AMSTERDAM)
    e = datetime.fromisoformat(end).astimezone(AMSTERDAM) if end else None
    return f"{s:%d-%m-%Y %H:%M}" + (f"–{e:%H:%M}" if e else "")


def preference_words(group: Group, level: int | None, lang: str) -> str:
    if level is None:
        return text(lang, "none")
    n = len(group.preferences)
    what = text(lang, "named") if level < n else text(lang, "sector", sector=sector_name(group.sectors[level - n], lang))
    return f"{text(lang, 'level', n=level + 1)}: {what}"


def explain(inst, group: Group, parts: list[Part], waitlist: dict[str, str], lang: str = "nl", pinned: bool = False,
            no_run: bool = False) -> dict:  # fmt: skip
    """``inst``: the service's ``Instance`` (engine values + read-model data); ``parts``: every
    placement of the run (for how full each activity is)."""
    data, companies, schools = inst.activity_data, inst.companies, inst.schools
    used: dict[str, int] = {}
    for p in parts:
        used[p.activity_id] = used.get(p.activity_id, 0) + p.pupils
    mine = [p for p in parts if p.group_id == group.id]
    limit = group.max_travel_km

    def names(aid: str) -> dict:
        d = data.get(aid) or {}
        return {"title": d.get("title", aid), "company": (companies.get(d.get("company_id", "")) or {}).get("name", ""),
                "postcode": d.get("postcode", ""), "slot": slot_words(d, lang)}  # fmt: skip

    def km(a) -> float:
        return round(float(haversine_km(group.lat, group.lon, a.lat, a.lon)), 1)

    options = []
    for a in inst.activities:
        d = km(a)
        why = unsuitable_because(group, a, d)
        level = preference_level(group.preferences, group.sectors, a)
        if why is None or level is not None:
            free = a.capacity - used.get(a.id, 0)
            status = (text(lang, "status_chosen") if any(p.activity_id == a.id for p in mine) else
                      rule(lang, why[0], why[1]) if why else text(lang, "status_room", n=free) if free > 0 else text(lang, "status_full"))  # fmt: skip
            options.append({"activity_id": a.id, **names(a.id), "distance_km": d, "preference_rank": level,
                            "preference": preference_words(group, level, lang), "suitable": why is None,
                            "free_places": max(0, free), "status": status})  # fmt: skip
    options.sort(key=lambda o: (not o["suitable"], o["preference_rank"] is None, o["preference_rank"] or 0, o["distance_km"]))

    preferences = []
    for level in range(group.levels):
        if level < len(group.preferences):
            aid = group.preferences[level]
            preferences.append({"level": level, "kind": "activity", "activity_id": aid, "text": preference_words(group, level, lang)})
            continue
        sector = group.sectors[level - len(group.preferences)]
        offered = [a for a in inst.activities if a.sector == sector]
        reach = [a for a in offered if unsuitable_because(group, a, km(a)) is None]
        where = {"sector": sector_name(sector, lang), "km": f"{limit:.0f}" if limit else "?"}
        words = (text(lang, "offered", n=len(reach), km=where["km"]) if reach else
                 text(lang, "not_offered", **where) if offered or limit else text(lang, "not_offered_anywhere", **where))  # fmt: skip
        preferences.append({"level": level, "kind": "sector", "sector": sector, "sector_name": sector_name(sector, lang),
                            "in_reach": len(reach), "text": f"{preference_words(group, level, lang)} — {words}"})  # fmt: skip

    if not mine:
        why_waiting = waitlist.get(group.id)
        if no_run:
            why = text(lang, "no_run")
        elif why_waiting is None:
            why = text(lang, "not_in_run")
        elif why_waiting.startswith("every suitable activity is full"):
            why = text(lang, "waiting_full")
        elif why_waiting.startswith("no suitable activity"):
            why = text(lang, "waiting_none")
        elif why_waiting.startswith("location unknown"):
            why = text(lang, "waiting_location", why=why_waiting.removeprefix("location unknown (").rstrip(")"))
        else:
            why = text(lang, "waiting_other", why=why_waiting)
    elif len(mine) > 1:
        why = text(lang, "split", n=len(mine), sizes=" + ".join(str(p.pupils) for p in mine), pupils=group.pupils)
    else:
        p, n = mine[0], names(mine[0].activity_id)
        figures = {"title": n["title"], "company": n["company"], "km": f"{p.distance_km:.0f}"}
        if p.rank is not None:
            why = text(lang, "placed_rank", n=p.rank + 1, pref=preference_words(group, p.rank, lang), **figures)
        else:
            why = text(lang, "placed_unranked" if group.levels else "placed_no_prefs", **figures)
    if pinned and mine:
        why += text(lang, "pinned")

    why_not = None
    if group.levels and not any(p.rank == 0 for p in mine):
        first = preferences[0]
        pref = preference_words(group, 0, lang)
        if first["kind"] == "sector" and first["in_reach"] == 0:
            why_not = text(lang, "first_not_offered", pref=pref, why=first["text"].split(" — ", 1)[1])
        else:
            at_first = [a for a in inst.activities if preference_level(group.preferences, group.sectors, a) == 0]
            fitting = [a for a in at_first if unsuitable_because(group, a, km(a)) is None]
            if not fitting:
                a = at_first[0] if at_first else None
                why_a = unsuitable_because(group, a, km(a)) if a else ("unknown_activity", {"activity_id": group.preferences[0]})
                why_not = text(lang, "first_unsuitable", pref=pref, why=rule(lang, why_a[0], why_a[1]))
            elif group.preferred_slot and all(a.slot != group.preferred_slot for a in fitting if a.capacity - used.get(a.id, 0) > 0):
                part = text(lang, "morning" if group.preferred_slot.endswith("morning") else "afternoon")
                why_not = text(lang, "first_slot", part=part, pref=pref)
            else:
                there = [p for p in parts if p.activity_id in {a.id for a in fitting} and p.group_id != group.id]
                own = min(km(a) for a in fitting)
                closer = bool(there) and all(p.distance_km <= own for p in there)
                others = {inst.school_of.get(p.group_id) for p in there}
                why_not = (text(lang, "first_full_closer", pref=pref, groups=len({p.group_id for p in there}), schools=len(others))
                           if closer else text(lang, "first_full", pref=pref))  # fmt: skip

    school = schools.get(group.school_id) or {}
    placed = [{"activity_id": p.activity_id, **names(p.activity_id), "pupils": p.pupils, "distance_km": p.distance_km,
               "preference_rank": p.rank, "preference": preference_words(group, p.rank, lang)} for p in mine]  # fmt: skip
    return {"group_id": group.id, "school_id": group.school_id, "school": school.get("name", ""), "pupils": group.pupils,
            "lang": "en" if lang == "en" else "nl", "preferences": preferences, "placed": placed, "pinned": pinned,
            "why": why, "why_not_first_choice": why_not, "options": options[:20]}  # fmt: skip
