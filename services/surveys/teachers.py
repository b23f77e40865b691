"""What a teacher sees: her classes' links and QR codes, response rates, a reminder if one is due."""

from __future__ import annotations

import io
from collections import defaultdict

import segno

from . import store
from .context import SurveysContext
from .domain.rules import may_store_response
from .jobs import school_windows


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


async def school_overview(ctx: SurveysContext, programme_id: str, school_id: str) -> dict:
    """The school's pupils per class with their links, the response rate per phase and per class,
    and a reminder when one is due. Schools and classes by name (organisation data), pupils by the
    school's own codes; a pupil who may not answer yet (no parental consent) is marked."""
    now = ctx.clock()
    async with ctx.sessions() as session:
        rows = await store.school_invitations(session, programme_id, school_id)
        programme = await store.programme(session, programme_id)
        school = await store.school(session, school_id)
        classes = await store.school_groups(session, programme_id, school_id)
        consent = await store.school_pupils(session, programme_id, school_id)
        codes = await store.school_codes(session, sorted({row.group_id for row in rows}))
    windows = school_windows(programme, ctx.windows)
    groups: dict[str, list[dict]] = defaultdict(list)
    pupils: dict[tuple[str, str], dict] = {}
    counts = {phase: {"invited": 0, "responded": 0} for phase in PHASES}
    per_group: dict[str, dict] = defaultdict(lambda: {phase: {"invited": 0, "responded": 0} for phase in PHASES})
    for row in rows:
        key = (row.group_id, row.pupil_ref)
        if key not in pupils:
            age, consented = consent.get(key, (None, False))
            pupils[key] = {
                "pupil_ref": row.pupil_ref,
                # the code the school gave her (a pupil entered before pseudonyms has it as her ref)
                "code": codes.get(key, row.pupil_ref),
                "activity_id": row.activity_id,
                "may_answer": may_store_response(age, consented),
            }
            groups[row.group_id].append(pupils[key])
        responded = row.response_id is not None
        pupils[key][row.phase] = {"token": row.token, "url": ctx.survey_url(row.token), "responded": responded}
        for tally in (counts[row.phase], per_group[row.group_id][row.phase]):
            tally["invited"] += 1
            tally["responded"] += responded
    phases = {}
    for phase, c in counts.items():
        window = windows[phase] if windows else None
        phases[phase] = {
            **c,
            "rate": _rate(c),
            "state": window.state(now) if window else "unknown",
            "opens": window.opens.isoformat() if window and window.opens.year > 1 else None,
            "closes": window.closes.isoformat() if window else None,
            "reminder": bool(window) and ctx.reminders.due(window, now, c["responded"], c["invited"]),
        }
    ordered = sorted(groups, key=lambda g: (classes.get(g) or [], g))
    return {
        "programme_id": programme_id,
        "school_id": school_id,
        "programme_name": programme.name if programme else programme_id,
        "school_name": school.name if school else None,
        "phases": phases,
        "groups": [
            {
                "group_id": g,
                "name": ", ".join(classes.get(g) or []) or None,
                "number": n,
                "phases": {phase: {**c, "rate": _rate(c)} for phase, c in per_group[g].items()},
                "pupils": sorted(groups[g], key=lambda p: p["code"]),
            }
            for n, g in enumerate(ordered, 1)
        ],
    }


PHASES = ("pre", "post")


def _rate(counts: dict) -> float | None:
    return round(counts["responded"] / counts["invited"], 4) if counts["invited"] else None
