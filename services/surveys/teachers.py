"""What a teacher sees: the group's links and QR codes, response counts, a reminder if one is due."""

from __future__ import annotations

import io
from collections import defaultdict

import segno

from . import store
from .context import SurveysContext
from .jobs import school_windows


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


async def school_overview(ctx: SurveysContext, programme_id: str, school_id: str) -> dict:
    now = ctx.clock()
    async with ctx.sessions() as session:
        rows = await store.school_invitations(session, programme_id, school_id)
        programme = await store.programme(session, programme_id)
    windows = school_windows(programme, ctx.windows)
    groups: dict[str, list[dict]] = defaultdict(list)
    pupils: dict[tuple[str, str], dict] = {}
    counts = {phase: {"invited": 0, "responded": 0} for phase in ("pre", "post")}
    for row in rows:
        key = (row.group_id, row.pupil_ref)
        if key not in pupils:
            pupils[key] = {"pupil_ref": row.pupil_ref, "activity_id": row.activity_id}
            groups[row.group_id].append(pupils[key])
        pupils[key][row.phase] = {"token": row.token, "url": ctx.survey_url(row.token), "responded": row.response_id is not None}
        counts[row.phase]["invited"] += 1
        counts[row.phase]["responded"] += row.response_id is not None
    phases = {}
    for phase, c in counts.items():
        window = windows[phase] if windows else None
        rate = c["responded"] / c["invited"] if c["invited"] else None
        phases[phase] = {
            **c,
            "rate": round(rate, 4) if rate is not None else None,
            "state": window.state(now) if window else "unknown",
            "opens": window.opens.isoformat() if window and window.opens.year > 1 else None,
            "closes": window.closes.isoformat() if window else None,
            "reminder": bool(window) and ctx.reminders.due(window, now, c["responded"], c["invited"]),
        }
    return {
        "programme_id": programme_id,
        "school_id": school_id,
        "programme_name": programme.name if programme else programme_id,
        "phases": phases,
        "groups": [{"group_id": g, "pupils": p} for g, p in sorted(groups.items())],
    }
