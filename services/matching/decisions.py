"""Staff decisions on a run: move a group, place a waiting group by hand, pin, release.

Every rule the engine keeps is checked (``domain.rules``); a placement that breaks one is refused
with the rule. A decision names the group's state it was made on (``version``, from the group's
current placements and pin): two staff changing the same group at once -- one wins, the other gets
``Stale`` with the current state (409). On a published run a change leaves through the outbox as
``placement.cancelled`` + ``placement.assigned`` (``decided_by="staff"``). A move or a placement
by hand pins the group unless told otherwise: a pinned group keeps its placement in every later run
and re-allocation until staff release it. Each decision is recorded with who made it and why.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching import service
from services.matching.domain.model import Part, haversine_km, preference_level
from services.matching.domain.rules import placement_problems
from services.matching.store import _insert, decisions, entities, pins, placements, runs, touch_programme, waitlist
from shared.outbox import Outbox


class Refused(Exception):
    """The placement breaks rules: [(code, figures)]."""

    def __init__(self, problems: list[tuple[str, dict]]):
        super().__init__("; ".join(code for code, _ in problems))
        self.problems = problems


class Stale(Exception):
    """The group changed since the state the decision was made on."""

    def __init__(self, current: dict):
        super().__init__("the group changed since you looked")
        self.current = current


@dataclass(frozen=True)
class Decision:
    action: str  # move (also: place a waiting group) | pin | release
    version: str
    reason: str
    decided_by: str
    parts: tuple[tuple[str, int], ...] = ()  # move: [(activity id, pupils)]
    pin: bool = True  # move: pin the group where it goes


def _rows_query(run, group_id: str):
    q = select(placements).where(placements.c.run_id == run.id, placements.c.group_id == group_id)
    return q.where(placements.c.active.is_(True)) if run.status == "published" else q


def state_of(rows, pin) -> dict:
    parts = sorted(({"activity_id": r.activity_id, "pupils": r.pupils, "placement_id": r.id} for r in rows),
                   key=lambda p: p["activity_id"])  # fmt: skip
    pinned = pin.parts if pin is not None else None
    token = hashlib.sha256(json.dumps([[p["placement_id"] for p in parts], pinned], sort_keys=True).encode()).hexdigest()[:16]
    return {"parts": parts, "pinned": pin is not None, "version": token}


async def group_state(session: AsyncSession, run, group_id: str) -> dict:
    rows = (await session.execute(_rows_query(run, group_id))).all()
    pin = (await session.execute(select(pins).where(pins.c.programme_id == run.programme_id, pins.c.group_id == group_id))).first()
    return state_of(rows, pin) | {"group_id": group_id, "run_id": run.id}


async def decide(session: AsyncSession, outbox: Outbox, run_id: str, group_id: str, d: Decision) -> dict:
    """Apply one decision in the caller's transaction; returns the group's new state."""
    run = (await session.execute(select(runs).where(runs.c.id == run_id))).first()
    if run is None:
        raise service.NotFound(f"unknown run {run_id}")
    if run.status not in ("proposal", "published"):
        raise service.Conflict(f"run {run_id} is {run.status}")
    lock = select(entities.c.id).where(entities.c.kind == "group", entities.c.id == group_id)
    if session.bind.dialect.name == "postgresql":
        lock = lock.with_for_update()  # two decisions on one group queue here; SQLite has one writer
    if (await session.execute(lock)).first() is None:
        raise service.NotFound(f"unknown group {group_id}")
    rows = (await session.execute(_rows_query(run, group_id))).all()
    pin = (await session.execute(select(pins).where(pins.c.programme_id == run.programme_id, pins.c.group_id == group_id))).first()
    before = state_of(rows, pin)
    if before["version"] != d.version:
        raise Stale(before | {"group_id": group_id, "run_id": run_id})
    now = datetime.now(UTC)
    after_parts = [{"activity_id": r.activity_id, "pupils": r.pupils} for r in rows]
    if d.action == "move":
        after_parts = await _move(session, outbox, run, group_id, rows, d)
    if (d.action == "move" and d.pin) or d.action == "pin":
        if not after_parts:
            raise Refused([("no_parts", {})])
        values = {"programme_id": run.programme_id, "group_id": group_id, "parts": after_parts, "reason": d.reason,
                  "decided_by": d.decided_by, "decided_at": now}  # fmt: skip
        await session.execute(_insert(session, pins).values(**values).on_conflict_do_update(
            index_elements=["programme_id", "group_id"], set_=values))  # fmt: skip
    elif d.action == "release":
        await session.execute(delete(pins).where(pins.c.programme_id == run.programme_id, pins.c.group_id == group_id))
    await session.execute(decisions.insert().values(
        id=str(uuid.uuid4()), programme_id=run.programme_id, run_id=run_id, group_id=group_id, action=d.action,
        before=before["parts"], after=after_parts, reason=d.reason, decided_by=d.decided_by, decided_at=now))  # fmt: skip
    await touch_programme(session, run.programme_id)  # a re-allocation computing meanwhile computes again
    return await group_state(session, run, group_id)


async def _move(session: AsyncSession, outbox: Outbox, run, group_id: str, rows, d: Decision) -> list[dict]:
    inst = await service.load_instance(session, run.programme_id)
    group = next((g for g in inst.groups if g.id == group_id), None)
    if group is None:
        raise Refused([("unknown_group", {"group_id": group_id})])
    acts = {a.id: a for a in inst.activities}
    others = select(placements.c.activity_id, placements.c.pupils).where(placements.c.run_id == run.id, placements.c.group_id != group_id)
    if run.status == "published":
        others = others.where(placements.c.active.is_(True))
    free = {a.id: a.capacity for a in inst.activities}
    for activity_id, n in (await session.execute(others)).all():
        free[activity_id] = free.get(activity_id, 0) - n
    problems = placement_problems(group, list(d.parts), acts, free)
    if problems:
        raise Refused(problems)
    new, start = [], 0
    for activity_id, n in d.parts:
        a = acts[activity_id]
        km = round(float(haversine_km(group.lat, group.lon, a.lat, a.lon)), 3)
        new.append(Part(group.id, a.id, n, km, preference_level(group.preferences, group.sectors, a), group.pupil_refs[start : start + n]))
        start += n
    why = f"staff: {d.reason}"
    salt = await service._salt(session, run.id)
    if run.status == "proposal":
        await session.execute(delete(placements).where(placements.c.run_id == run.id, placements.c.group_id == group_id))
        await session.execute(delete(waitlist).where(waitlist.c.run_id == run.id, waitlist.c.unit_id == group_id))
        await service._store_parts(session, run.id, run.programme_id, inst, new, active=False, reason=why, salt=salt)
    else:
        stored = await service._store_parts(session, run.id, run.programme_id, inst, new, active=True, reason=why, salt=salt)
        for row in rows:
            await service._cancel(session, outbox, row, why, replaced_by=[r["id"] for r in stored], decided_by="staff")
        for r in stored:
            event = service._assigned(r, inst.activity_data, previous=[row._mapping for row in rows], pinned=d.pin, decided_by="staff")
            await outbox.add(session, event, subject=f"group/{group_id}")
        await session.execute(delete(waitlist).where(waitlist.c.run_id == run.id, waitlist.c.unit_id == group_id))
    return [{"activity_id": a, "pupils": n} for a, n in d.parts]
