"""Service layer: load the read model, run the engine, store, publish, re-allocate.

Thin glue between the pure engine (``domain``), the tables (``store``) and the outbox.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.matching import metrics
from services.matching.domain import Activity, Group, Part, Pupil, allocate_groups, allocate_pupils
from services.matching.domain.digest import inputs_digest
from services.matching.domain.reallocate import reallocate_groups, reallocate_pupils
from services.matching.store import entities_of, get_entity, placements, run_locks, runs, try_lock, waitlist
from shared import contracts as c
from shared import geo
from shared.outbox import Outbox

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NAMESPACE = uuid.UUID("5b0c1f36-8f0e-4a53-9a55-3f3d5a6c1e11")


def pupil_id(group_id: str, pupil_ref: str) -> str:
    """A pupil's id in matching (the engine's ``Pupil.id``, the waiting list's ``unit_id``, the
    explanations' path): pupil codes are unique only within their group. At most 36 + 1 + 24 characters."""
    return f"{group_id}/{pupil_ref}"


class RunInProgress(Exception):
    pass


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


@dataclass
class Instance:
    programme: dict
    mode: str
    groups: list[Group] = field(default_factory=list)
    pupils: list[Pupil] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    unlocated: dict[str, str] = field(default_factory=dict)  # group id -> reason, never guessed
    school_of: dict[str, str] = field(default_factory=dict)
    company_of: dict[str, str] = field(default_factory=dict)
    group_pupils: dict[str, int] = field(default_factory=dict)
    # The read model's data, for names, times and addresses (explanations, pages, events).
    activity_data: dict[str, dict] = field(default_factory=dict)
    group_data: dict[str, dict] = field(default_factory=dict)
    schools: dict[str, dict] = field(default_factory=dict)
    companies: dict[str, dict] = field(default_factory=dict)


def slot_key(slot_start: str | None) -> str | None:
    """The engine's time slot of an activity: its day and part of day in Europe/Amsterdam
    ("2027-04-08 morning" before noon, else "... afternoon"). A re-allocation keeps a group in its
    slot when it can (``model.W_SLOT``); a placement that moves it to another says so."""
    if not slot_start:
        return None
    local = datetime.fromisoformat(slot_start).astimezone(AMSTERDAM)
    return f"{local.date().isoformat()} {'morning' if local.hour < 12 else 'afternoon'}"


async def load_instance(session: AsyncSession, programme_id: str) -> Instance:
    prog = await get_entity(session, "programme", programme_id)
    if prog is None:
        raise NotFound(f"unknown programme {programme_id}")
    inst = Instance(prog.data, prog.data["allocation_mode"])
    schools = {r.id: r.data for r in await entities_of(session, "school")}
    inst.schools = schools
    inst.companies = {r.id: r.data for r in await entities_of(session, "company")}
    for row in await entities_of(session, "activity", programme_id):
        a = row.data
        inst.activity_data[a["activity_id"]] = a
        place = geo.locate(a["postcode"])
        if place is None:
            continue  # an activity without a known location cannot be offered; counted in the run
        inst.activities.append(Activity(a["activity_id"], a["capacity"], place.lat, place.lon, frozenset(a.get("levels") or ()),
                                        a.get("min_age"), a.get("max_age"), slot_key(a.get("slot_start")), a["company_id"],
                                        a.get("sector") or ""))  # fmt: skip
        inst.company_of[a["activity_id"]] = a["company_id"]
    for row in await entities_of(session, "group", programme_id):
        g = row.data
        inst.group_data[g["group_id"]] = g
        inst.school_of[g["group_id"]] = g["school_id"]
        inst.group_pupils[g["group_id"]] = g["pupil_count"]
        school = schools.get(g["school_id"])
        place = geo.lookup(school["postcode"]) if school else None
        if place is None or place.place is None:
            why = "school not registered" if school is None else f"school postcode {school['postcode']}: {place.reason}"
            inst.unlocated[g["group_id"]] = f"location unknown ({why})"
            continue
        p = place.place
        ages = g.get("ages") or []
        split = g.get("split") or {}
        refs = tuple(x["pupil_ref"] for x in g.get("pupils") or ())
        sectors = tuple(g.get("preferred_sectors") or ())
        inst.groups.append(Group(
            g["group_id"], g["pupil_count"], p.lat, p.lon, school["level"], min(ages) if ages else None,
            max(ages) if ages else None, None, g.get("max_travel_km"),
            split.get("max_parts", 1) if split.get("may_split") else 1, split.get("min_part_size", 1),
            tuple(g.get("preferred_activities") or ()), g["school_id"], refs, sectors,
        ))  # fmt: skip
        for x in g.get("pupils") or ():
            inst.pupils.append(Pupil(pupil_id(g["group_id"], x["pupil_ref"]), p.lat, p.lon, tuple(x.get("ranking") or ()),
                                     g["group_id"], g["school_id"], x["pupil_ref"], sectors))  # fmt: skip
    return inst


def compute(inst: Instance, seed: int, max_placed: bool = False):
    if inst.mode == "individual":
        params = {"band_km": 10.0, "max_placed": max_placed}
        # One placement row per pupil: a re-allocation then cancels exactly the pupils it moves, and
        # a pupil who keeps her activity keeps her placement (and the survey tokens made for it).
        result = allocate_pupils(inst.pupils, inst.activities, seed=seed, part_per_pupil=True, **params)
        digest = inputs_digest(inst.pupils, inst.activities, seed, params)
    else:
        result = allocate_groups(inst.groups, inst.activities, seed=seed)
        digest = inputs_digest(inst.groups, inst.activities, seed, result.parameters)
    return result, digest


async def start_run(sessions: async_sessionmaker, programme_id: str, seed: int | None = None,
                    max_placed: bool = False) -> dict:  # fmt: skip
    run_id = str(uuid.uuid4())
    async with sessions() as session, session.begin():
        if await get_entity(session, "programme", programme_id) is None:
            raise NotFound(f"unknown programme {programme_id}")
        if not await try_lock(session, programme_id, run_id, datetime.now(UTC)):
            raise RunInProgress(programme_id)
    try:
        async with sessions() as session:
            inst = await load_instance(session, programme_id)
        seed = seed if seed is not None else int(uuid.UUID(run_id).int % 2**31)
        t0 = time.perf_counter()
        result, digest = await asyncio.to_thread(compute, inst, seed, max_placed)
        duration = time.perf_counter() - t0
        quality = result.quality.as_dict() | {"unlocated_groups": len(inst.unlocated)}
        async with sessions() as session, session.begin():
            await session.execute(insert(runs).values(
                id=run_id, programme_id=programme_id, mode=inst.mode, status="proposal", seed=seed,
                parameters=result.parameters, inputs_digest=digest, quality=_plain(quality), duration_s=duration,
                created_at=datetime.now(UTC)))  # fmt: skip
            await _store_parts(session, run_id, programme_id, inst, result.parts, active=False, reason="run")
            wait = dict(result.waitlist) | inst.unlocated
            await _store_waitlist(session, run_id, programme_id, inst, wait)
        metrics.observe_run(programme_id, inst.mode, duration, result.quality, len(wait))
        return await get_run(sessions, run_id)
    finally:
        async with sessions() as session, session.begin():
            await session.execute(delete(run_locks).where(run_locks.c.run_id == run_id))


def _plain(d: dict) -> dict:
    return {k: (float(v) if hasattr(v, "item") else v) for k, v in d.items()}


def _placement_id(run_id: str, part: Part, salt: str = "") -> str:
    """``salt`` (a re-allocation's number of rows already in the run) keeps an id new when a unit
    comes back to an activity it was cancelled from: consumers key placements by this id."""
    return str(uuid.uuid5(NAMESPACE, f"{run_id}/{part.group_id}/{part.activity_id}/{','.join(part.pupil_refs)}{salt}"))


async def _store_parts(session, run_id, programme_id, inst: Instance, parts, active: bool, reason: str | list[str],
                       salt: str = "") -> list[dict]:  # fmt: skip
    """``reason``: one for every part, or one per part."""
    reasons = [reason] * len(parts) if isinstance(reason, str) else reason
    rows = [{
        "id": _placement_id(run_id, p, salt), "run_id": run_id, "programme_id": programme_id, "group_id": p.group_id,
        "school_id": inst.school_of.get(p.group_id, ""), "activity_id": p.activity_id,
        "company_id": inst.company_of.get(p.activity_id, ""), "pupils": p.pupils, "pupil_refs": list(p.pupil_refs),
        "distance_km": p.distance_km, "preference_rank": p.rank, "reason": why, "active": active,
    } for p, why in zip(parts, reasons, strict=True)]  # fmt: skip
    if rows:
        await session.execute(insert(placements), rows)
    return rows


async def _store_waitlist(session, run_id, programme_id, inst: Instance, wait: dict[str, str]) -> None:
    if inst.mode == "individual":
        group_of = {p.id: p.group_id for p in inst.pupils}
        rows = [{"run_id": run_id, "unit_id": u, "programme_id": programme_id, "group_id": group_of.get(u, ""),
                 "school_id": inst.school_of.get(group_of.get(u, ""), ""), "pupils": 1, "reason": r} for u, r in wait.items()]  # fmt: skip
    else:
        rows = [{"run_id": run_id, "unit_id": g, "programme_id": programme_id, "group_id": g,
                 "school_id": inst.school_of.get(g, ""), "pupils": inst.group_pupils.get(g, 0), "reason": r} for g, r in wait.items()]  # fmt: skip
    if rows:
        await session.execute(insert(waitlist), rows)


async def get_run(sessions: async_sessionmaker, run_id: str) -> dict:
    async with sessions() as session:
        row = (await session.execute(select(runs).where(runs.c.id == run_id))).first()
    if row is None:
        raise NotFound(f"unknown run {run_id}")
    return _run_dict(row)


def _run_dict(row) -> dict:
    return {"run_id": row.id, "programme_id": row.programme_id, "mode": row.mode, "status": row.status, "seed": row.seed,
            "parameters": row.parameters, "inputs_digest": row.inputs_digest, "quality": row.quality,
            "duration_s": row.duration_s}  # fmt: skip


async def publish(session: AsyncSession, outbox: Outbox, run_id: str) -> dict:
    row = (await session.execute(select(runs).where(runs.c.id == run_id))).first()
    if row is None:
        raise NotFound(f"unknown run {run_id}")
    if row.status != "proposal":
        raise Conflict(f"run {run_id} is {row.status}")
    if (await session.execute(select(runs.c.id).where(runs.c.programme_id == row.programme_id,
                                                      runs.c.status == "published"))).first():  # fmt: skip
        raise Conflict(f"programme {row.programme_id} already has a published allocation")
    await session.execute(update(runs).where(runs.c.id == run_id).values(status="published", published_at=datetime.now(UTC)))
    await session.execute(update(placements).where(placements.c.run_id == run_id).values(active=True))
    for p in (await session.execute(select(placements).where(placements.c.run_id == run_id))).all():
        await outbox.add(session, _assigned(p), subject=f"group/{p.group_id}")
    for w in (await session.execute(select(waitlist).where(waitlist.c.run_id == run_id))).all():
        group_id = w.group_id or w.unit_id
        await outbox.add(session, _waitlisted(w.programme_id, group_id, w.school_id, w.pupils, w.unit_id, w.reason))
    q = row.quality
    await outbox.add(session, c.RunCompleted(
        run_id=run_id, programme_id=row.programme_id, mode=row.mode, seed=row.seed, placed_pupils=q["placed_pupils"],
        unplaced_pupils=q["unplaced_pupils"], splits=q["splits"], placed_ratio=q["placed_ratio"],
        first_choice_ratio=q.get("first_choice_ratio"), mean_distance_km=q.get("mean_distance_km"),
        max_distance_km=q.get("max_distance_km"), blocking_pairs=q.get("blocking_pairs"),
        optimality_gap=q.get("optimality_gap"), duration_s=row.duration_s, inputs_digest=row.inputs_digest,
        first_preference_ratio=q.get("first_choice_ratio"), first_preference_bound=q.get("first_choice_bound"),
        top_three_ratio=q.get("top_three_ratio"), top_three_bound=q.get("top_three_bound")))  # fmt: skip
    return _run_dict(row) | {"status": "published"}


def _waitlisted(programme_id: str, group_id: str, school_id: str, pupils: int, unit_id: str,
                reason: str) -> c.GroupWaitlisted:  # fmt: skip
    """A waiting group, or in individual mode a waiting pupil (``unit_id`` "<group_id>/<pupil_ref>")
    with her code in ``pupil_refs``."""
    ref = unit_id.removeprefix(f"{group_id}/") if unit_id.startswith(f"{group_id}/") else None
    return c.GroupWaitlisted(programme_id=programme_id, group_id=group_id, school_id=school_id, pupil_count=pupils,
                             pupil_refs=[ref] if ref else [], reason=reason)  # fmt: skip


def _assigned(p) -> c.PlacementAssigned:
    return c.PlacementAssigned(
        placement_id=p.id, run_id=p.run_id, programme_id=p.programme_id, group_id=p.group_id, school_id=p.school_id,
        activity_id=p.activity_id, company_id=p.company_id, pupil_count=p.pupils, pupil_refs=p.pupil_refs,
        distance_km=p.distance_km, preference_rank=p.preference_rank, reason=p.reason)  # fmt: skip


async def _salt(session: AsyncSession, run_id: str) -> str:
    stored = select(func.count()).select_from(placements).where(placements.c.run_id == run_id)
    return f"#{(await session.execute(stored)).scalar()}"


async def _cancel(session: AsyncSession, outbox: Outbox, row, reason: str) -> None:
    await session.execute(update(placements).where(placements.c.id == row.id).values(active=False, reason=reason))
    await outbox.add(session, c.PlacementCancelled(
        placement_id=row.id, programme_id=row.programme_id, group_id=row.group_id, school_id=row.school_id,
        activity_id=row.activity_id, pupil_count=row.pupils, pupil_refs=row.pupil_refs, reason=reason))  # fmt: skip


async def reallocate(session: AsyncSession, outbox: Outbox, programme_id: str) -> dict | None:
    """After a change in the read model: re-allocate a published programme (either mode), emitting
    only the changes. Returns the counts, or None when there is nothing published to re-allocate."""
    run = (await session.execute(select(runs).where(runs.c.programme_id == programme_id,
                                                    runs.c.status == "published"))).first()  # fmt: skip
    if run is None:
        return None
    inst = await load_instance(session, programme_id)
    current = (await session.execute(select(placements).where(placements.c.run_id == run.id,
                                                              placements.c.active.is_(True))
                                     .order_by(placements.c.id))).all()  # fmt: skip
    waiting = {w.unit_id: w.reason for w in (await session.execute(select(waitlist).where(waitlist.c.run_id == run.id))).all()}
    salt = await _salt(session, run.id)
    if run.mode == "individual":
        return await _reallocate_pupils(session, outbox, run, inst, current, waiting, salt)
    previous = [Part(p.group_id, p.activity_id, p.pupils, p.distance_km or 0.0, p.preference_rank, tuple(p.pupil_refs))
                for p in current]  # fmt: skip
    changes = reallocate_groups(inst.groups, inst.activities, previous, waiting, seed=run.seed)
    by_key = {(p.group_id, p.activity_id, tuple(p.pupil_refs)): p for p in current}
    for part, reason in changes.cancelled:
        await _cancel(session, outbox, by_key[(part.group_id, part.activity_id, tuple(part.pupil_refs))], reason)
    rows = await _store_parts(session, run.id, programme_id, inst, changes.assigned, active=True, reason="re-allocated",
                              salt=salt)  # fmt: skip
    for r in rows:
        await outbox.add(session, _assigned(type("Row", (), r)), subject=f"group/{r['group_id']}")
    await session.execute(delete(waitlist).where(waitlist.c.run_id == run.id))
    await _store_waitlist(session, run.id, programme_id, inst, dict(changes.waitlist) | inst.unlocated)
    for g, why in changes.waitlisted.items():
        pupils = inst.group_pupils.get(g, 0)
        await outbox.add(session, _waitlisted(programme_id, g, inst.school_of.get(g, ""), pupils, g, why))
    return {"assigned": len(rows), "cancelled": len(changes.cancelled), "waitlisted": len(changes.waitlisted)}


async def _reallocate_pupils(session, outbox, run, inst: Instance, current, waiting: dict[str, str], salt: str) -> dict:
    """Individual mode. The engine works on one part per pupil (``group_id`` = her id); placement
    rows are one per pupil since runs store them so, so a row is either untouched or cancelled
    whole. A row holding several pupils (stored before that, or short of a code erased since) that
    loses some of them is cancelled, and each pupil of it who stays gets a new row at the same
    activity (reason "unchanged activity: ...")."""
    pupils = {p.id: p for p in inst.pupils}
    previous, row_of = [], {}
    for row in current:
        for ref in row.pupil_refs:
            pid = pupil_id(row.group_id, ref)
            previous.append(Part(pid, row.activity_id, 1, row.distance_km or 0.0, row.preference_rank, (ref,)))
            row_of[pid] = row
    band_km = (run.parameters or {}).get("band_km", 10.0)
    changes = reallocate_pupils(inst.pupils, inst.activities, previous, waiting, seed=run.seed, band_km=band_km)
    gone: dict[str, dict[str, str]] = {}  # row id -> pupil ref -> why she leaves
    for part, reason in changes.cancelled:
        gone.setdefault(row_of[part.group_id].id, {})[part.pupil_refs[0]] = reason
    kept = {p.group_id: p for p in changes.parts}  # pupil id -> her part now (stay or new)

    known = {a.id for a in inst.activities}

    def as_row_part(p: Part, group_id: str) -> Part:
        """The engine's part of one pupil as a placement row's: her group, her rank (as the engine counts it:
        listed activities that exist, each once)."""
        listed = list(dict.fromkeys(a for a in pupils[p.group_id].preferences if a in known))
        rank = p.rank if p.rank is not None else listed.index(p.activity_id) if p.activity_id in listed else None
        return Part(group_id, p.activity_id, 1, p.distance_km, rank, p.pupil_refs)

    cancelled, restored, reasons = 0, [], []
    for row in current:
        leaving = gone.get(row.id, {})
        erased = row.pupils - len(row.pupil_refs)  # codes removed by an erasure: those seats are free
        if not leaving and erased <= 0:
            continue
        why = sorted(set(leaving.values()) | ({"pupil erased"} if erased > 0 else set()))
        await _cancel(session, outbox, row, "; ".join(why))
        cancelled += 1
        for ref in row.pupil_refs:
            if ref not in leaving:
                restored.append(as_row_part(kept[pupil_id(row.group_id, ref)], row.group_id))
                reasons.append(f"unchanged activity: placement re-issued for this pupil alone ({'; '.join(why)} for others)")
    new = [as_row_part(p, pupils[p.group_id].group_id) for p in changes.assigned]
    rows = await _store_parts(session, run.id, run.programme_id, inst, restored + new, active=True,
                              reason=reasons + ["re-allocated"] * len(new), salt=salt)  # fmt: skip
    for r in rows:
        await outbox.add(session, _assigned(type("Row", (), r)), subject=f"group/{r['group_id']}")
    await session.execute(delete(waitlist).where(waitlist.c.run_id == run.id))
    await _store_waitlist(session, run.id, run.programme_id, inst, dict(changes.waitlist) | inst.unlocated)
    for pid, why in changes.waitlisted.items():
        gid = pupils[pid].group_id
        await outbox.add(session, _waitlisted(run.programme_id, gid, inst.school_of.get(gid, ""), 1, pid, why))
    return {"assigned": len(rows), "cancelled": cancelled, "waitlisted": len(changes.waitlisted)}
