"""Service layer: load the read model, run the engine, store, publish, re-allocate.

Thin glue between the pure engine (``domain``), the tables (``store``) and the outbox.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.matching import metrics
from services.matching.domain import Activity, Allocation, Group, Part, Pupil, allocate_groups, allocate_pupils
from services.matching.domain.digest import inputs_digest
from services.matching.domain.model import haversine_km, preference_level
from services.matching.domain.reallocate import reallocate_groups, reallocate_pupils
from services.matching.store import (
    entities_of,
    get_entity,
    pins,
    placements,
    programme_work,
    run_locks,
    runs,
    touch_programme,
    try_lock,
    waitlist,
)
from shared import contracts as c
from shared import geo
from shared.outbox import Outbox

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PINNED = "pinned by staff"
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
    pins: dict[str, list[dict]] = field(default_factory=dict)


def slot_key(slot_start: str | None) -> str | None:
    """The engine's time slot of an activity: its day and part of day in Europe/Amsterdam
    ("2027-04-08 morning" before noon, else "... afternoon"). A re-allocation keeps a group in its
    slot when it can (``model.W_SLOT``); a placement that moves it to another says so."""
    if not slot_start:
        return None
    local = datetime.fromisoformat(slot_start).astimezone(AMSTERDAM)
    return f"{local.date().isoformat()} {'morning' if local.hour < 12 else 'afternoon'}"


@dataclass
class ReadModel:
    """What a run needs from the read model, read in one go (the engine then runs off the event loop)."""

    programme: dict
    schools: dict[str, dict]
    companies: dict[str, dict]
    activities: list[dict]  # offered
    activity_data: dict[str, dict]  # every activity of the programme, cancelled ones too (names, times)
    groups: list[dict]  # registered, not withdrawn
    pins: dict[str, list[dict]] = field(default_factory=dict)  # group id -> [{"activity_id", "pupils"}]


async def read_model(session: AsyncSession, programme_id: str) -> ReadModel:
    prog = await get_entity(session, "programme", programme_id)
    if prog is None:
        raise NotFound(f"unknown programme {programme_id}")
    everything = await entities_of(session, "activity", programme_id, active_only=False)
    return ReadModel(
        prog.data,
        {r.id: r.data for r in await entities_of(session, "school")},
        {r.id: r.data for r in await entities_of(session, "company")},
        [r.data for r in everything if r.active],
        {r.id: r.data for r in everything},
        [r.data for r in await entities_of(session, "group", programme_id)],
        {r.group_id: r.parts for r in (await session.execute(select(pins).where(pins.c.programme_id == programme_id))).all()},
    )


async def load_instance(session: AsyncSession, programme_id: str) -> Instance:
    return build_instance(await read_model(session, programme_id))


def build_instance(rm: ReadModel) -> Instance:
    """The engine's values from the read model (postcodes located offline; plain CPU work)."""
    inst = Instance(rm.programme, rm.programme["allocation_mode"])
    schools = rm.schools
    inst.schools, inst.companies, inst.activity_data, inst.pins = schools, rm.companies, rm.activity_data, rm.pins
    for a in rm.activities:
        place = geo.locate(a["postcode"])
        if place is None:
            continue  # an activity without a known location cannot be offered; counted in the run
        inst.activities.append(Activity(a["activity_id"], a["capacity"], place.lat, place.lon, frozenset(a.get("levels") or ()),
                                        a.get("min_age"), a.get("max_age"), slot_key(a.get("slot_start")), a["company_id"],
                                        a.get("sector") or ""))  # fmt: skip
        inst.company_of[a["activity_id"]] = a["company_id"]
    for g in rm.groups:
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


def pinned_parts(inst: Instance) -> list[Part]:
    """The placements staff pinned that still hold (group registered, every activity offered, the
    group's size unchanged): fixed for the engine."""
    groups, acts = {g.id: g for g in inst.groups}, {a.id: a for a in inst.activities}
    out = []
    for group_id, parts in sorted(inst.pins.items()):
        g = groups.get(group_id)
        if g is None or sum(x["pupils"] for x in parts) != g.pupils or any(x["activity_id"] not in acts for x in parts):
            continue
        start = 0
        for x in parts:
            a = acts[x["activity_id"]]
            refs = g.pupil_refs[start : start + x["pupils"]]
            start += x["pupils"]
            out.append(Part(g.id, a.id, x["pupils"], round(float(haversine_km(g.lat, g.lon, a.lat, a.lon)), 3),
                            preference_level(g.preferences, g.sectors, a), tuple(refs)))  # fmt: skip
    return out


def compute(inst: Instance, seed: int, max_placed: bool = False):
    if inst.mode == "individual":
        params = {"band_km": 10.0, "max_placed": max_placed}
        # One placement row per pupil: a re-allocation then cancels exactly the pupils it moves, and
        # a pupil who keeps her activity keeps her placement (and the survey tokens made for it).
        result = allocate_pupils(inst.pupils, inst.activities, seed=seed, part_per_pupil=True, **params)
        digest = inputs_digest(inst.pupils, inst.activities, seed, params)
        return result, digest
    fixed = pinned_parts(inst)
    held: dict[str, int] = {}
    for part in fixed:
        held[part.activity_id] = held.get(part.activity_id, 0) + part.pupils
    pinned = {part.group_id for part in fixed}
    free = [g for g in inst.groups if g.id not in pinned]
    room = [replace(a, capacity=max(0, a.capacity - held.get(a.id, 0))) for a in inst.activities]
    result = allocate_groups(free, room, seed=seed)
    digest = inputs_digest(inst.groups, inst.activities, seed, result.parameters | {"pins": sorted(inst.pins)})
    return (with_pinned(result, fixed, inst.groups) if fixed else result), digest


def with_pinned(result, fixed: list[Part], groups: list[Group]):
    """The engine's allocation plus the pinned placements; the figures count every group (the
    preference bounds stay those of the engine's part)."""
    parts = tuple(fixed) + tuple(result.parts)
    q = result.quality
    total = sum(g.pupils for g in groups)
    placed = sum(p.pupils for p in parts)
    levels = {g.id: g.levels for g in groups}
    with_prefs = sum(p.pupils for p in parts if levels.get(p.group_id))
    first = sum(p.pupils for p in parts if levels.get(p.group_id) and p.rank == 0)
    top = sum(p.pupils for p in parts if levels.get(p.group_id) and p.rank is not None and p.rank <= 2)
    quality = replace(q, placed_pupils=placed, unplaced_pupils=total - placed, placed_ratio=placed / total if total else 1.0,
                      first_choice_ratio=first / with_prefs if with_prefs else None,
                      top_three_ratio=top / with_prefs if with_prefs else None)  # fmt: skip
    built = (parts, dict(result.waitlist), {})
    return Allocation("groups", quality, result.seed, result.parameters | {"pinned_groups": len({p.group_id for p in fixed})},
                      lambda: built)  # fmt: skip


async def start_run(sessions: async_sessionmaker, programme_id: str, seed: int | None = None,
                    max_placed: bool = False) -> dict:  # fmt: skip
    """A proposal: the read model is read, then the engine runs in a thread (never on the event loop)."""
    run_id = str(uuid.uuid4())
    async with sessions() as session, session.begin():
        if await get_entity(session, "programme", programme_id) is None:
            raise NotFound(f"unknown programme {programme_id}")
        if not await try_lock(session, programme_id, run_id, datetime.now(UTC)):
            raise RunInProgress(programme_id)
    try:
        async with sessions() as session:
            rm = await read_model(session, programme_id)
        seed = seed if seed is not None else int(uuid.UUID(run_id).int % 2**31)
        t0 = time.perf_counter()

        def work():
            inst = build_instance(rm)
            return inst, *compute(inst, seed, max_placed)

        inst, result, digest = await asyncio.to_thread(work)
        duration = time.perf_counter() - t0
        quality = result.quality.as_dict() | {"unlocated_groups": len(inst.unlocated)}
        pinned = {p.group_id for p in pinned_parts(inst)} if inst.mode == "groups" else set()
        async with sessions() as session, session.begin():
            await session.execute(insert(runs).values(
                id=run_id, programme_id=programme_id, mode=inst.mode, status="proposal", seed=seed,
                parameters=result.parameters, inputs_digest=digest, quality=_plain(quality), duration_s=duration,
                created_at=datetime.now(UTC)))  # fmt: skip
            reasons = [PINNED if p.group_id in pinned else "run" for p in result.parts]
            await _store_parts(session, run_id, programme_id, inst, result.parts, active=False, reason=reasons)
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
    acts = {r.id: r.data for r in await entities_of(session, "activity", row.programme_id, active_only=False)}
    pinned = {r.group_id for r in (await session.execute(select(pins.c.group_id).where(pins.c.programme_id == row.programme_id)))}
    for p in (await session.execute(select(placements).where(placements.c.run_id == run_id))).all():
        await outbox.add(session, _assigned(p._mapping, acts, pinned=p.group_id in pinned), subject=f"group/{p.group_id}")
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
    await touch_programme(session, row.programme_id)
    return _run_dict(row) | {"status": "published"}


def _waitlisted(programme_id: str, group_id: str, school_id: str, pupils: int, unit_id: str,
                reason: str) -> c.GroupWaitlisted:  # fmt: skip
    """A waiting group, or in individual mode a waiting pupil (``unit_id`` "<group_id>/<pupil_ref>")
    with her code in ``pupil_refs``."""
    ref = unit_id.removeprefix(f"{group_id}/") if unit_id.startswith(f"{group_id}/") else None
    return c.GroupWaitlisted(programme_id=programme_id, group_id=group_id, school_id=school_id, pupil_count=pupils,
                             pupil_refs=[ref] if ref else [], reason=reason)  # fmt: skip


def _assigned(p, activities: dict[str, dict], previous=(), pinned: bool = False, decided_by: str = "engine") -> c.PlacementAssigned:
    """``p``: a placement row (mapping); ``previous``: the rows it replaces in the same change.
    The time slot counts as changed when its day part (``slot_key``) differs from the one the
    group had (where most of its pupils were)."""
    act = activities.get(p["activity_id"]) or {}
    before = max(previous, key=lambda r: r["pupils"]) if previous else None
    had = (activities.get(before["activity_id"]) or {}) if before else {}
    return c.PlacementAssigned(
        placement_id=p["id"], run_id=p["run_id"], programme_id=p["programme_id"], group_id=p["group_id"],
        school_id=p["school_id"], activity_id=p["activity_id"], company_id=p["company_id"], pupil_count=p["pupils"],
        pupil_refs=p["pupil_refs"], distance_km=p["distance_km"], preference_rank=p["preference_rank"], reason=p["reason"],
        slot_start=act.get("slot_start"), slot_end=act.get("slot_end"), replaces=[r["id"] for r in previous],
        previous_activity_id=before["activity_id"] if before else None, previous_slot_start=had.get("slot_start"),
        slot_changed=None if before is None else slot_key(had.get("slot_start")) != slot_key(act.get("slot_start")),
        pinned=pinned, decided_by=decided_by)  # fmt: skip


async def _salt(session: AsyncSession, run_id: str) -> str:
    stored = select(func.count()).select_from(placements).where(placements.c.run_id == run_id)
    return f"#{(await session.execute(stored)).scalar()}"


async def _cancel(session: AsyncSession, outbox: Outbox, row, reason: str, replaced_by=(), decided_by: str = "engine") -> None:
    await session.execute(update(placements).where(placements.c.id == row.id).values(active=False, reason=reason))
    await outbox.add(session, c.PlacementCancelled(
        placement_id=row.id, programme_id=row.programme_id, group_id=row.group_id, school_id=row.school_id,
        activity_id=row.activity_id, pupil_count=row.pupils, pupil_refs=row.pupil_refs, reason=reason,
        replaced_by=list(replaced_by), decided_by=decided_by))  # fmt: skip


# --- re-allocation after publishing ------------------------------------------------------------
#
# A change in the read model (consumers) commits with ``touch_programme(reallocate=True)``, in the
# consumer's transaction with its inbox claim. The re-allocation itself runs later, off the event
# loop (``reallocate_pending``, woken after each commit and every second): it reads the read model
# and the published placements, computes the changes in a thread, and applies them -- rows and
# events in one transaction -- only if the programme's version is still the one it read (else it
# computes again). So a batch of changes costs one re-allocation, no consumer or HTTP request waits
# for the engine, and the changes still happen exactly once: the request is durable until the
# transaction that applies them clears it.


@dataclass
class Snapshot:
    run: object
    rm: ReadModel
    current: list  # the published run's active placement rows
    waiting: dict[str, str]
    salt: str


async def _version(session: AsyncSession, programme_id: str) -> int:
    v = (await session.execute(select(programme_work.c.version).where(programme_work.c.programme_id == programme_id))).scalar()
    return v or 0


async def _claim(session: AsyncSession, programme_id: str, version: int) -> bool:
    """Clear the programme's re-allocation request if nothing changed since ``version`` was read."""
    stmt = (update(programme_work).where(programme_work.c.programme_id == programme_id, programme_work.c.version == version)
            .values(version=version + 1, reallocate=False))  # fmt: skip
    if (await session.execute(stmt)).rowcount == 1:
        return True
    if version == 0:  # never touched: the row is made now (or by a racing writer, then we lost)
        return await _claim_new(session, programme_id)
    return False


async def _claim_new(session: AsyncSession, programme_id: str) -> bool:
    from services.matching.store import _insert

    stmt = _insert(session, programme_work).values(programme_id=programme_id, version=1, reallocate=False, auto_run=False)
    return (await session.execute(stmt.on_conflict_do_nothing(index_elements=["programme_id"]))).rowcount == 1


async def _snapshot(session: AsyncSession, programme_id: str) -> Snapshot | None:
    run = (await session.execute(select(runs).where(runs.c.programme_id == programme_id,
                                                    runs.c.status == "published"))).first()  # fmt: skip
    if run is None:
        return None
    rm = await read_model(session, programme_id)
    current = (await session.execute(select(placements).where(placements.c.run_id == run.id,
                                                              placements.c.active.is_(True))
                                     .order_by(placements.c.id))).all()  # fmt: skip
    waiting = {w.unit_id: w.reason for w in (await session.execute(select(waitlist).where(waitlist.c.run_id == run.id))).all()}
    return Snapshot(run, rm, current, waiting, await _salt(session, run.id))


def _plan(snap: Snapshot):
    """The changes (pure CPU: runs in a thread)."""
    inst = build_instance(snap.rm)
    run = snap.run
    if run.mode == "individual":
        previous = []
        for row in snap.current:
            for ref in row.pupil_refs:
                previous.append(Part(pupil_id(row.group_id, ref), row.activity_id, 1, row.distance_km or 0.0, row.preference_rank, (ref,)))
        band_km = (run.parameters or {}).get("band_km", 10.0)
        return inst, reallocate_pupils(inst.pupils, inst.activities, previous, snap.waiting, seed=run.seed, band_km=band_km)
    previous = [Part(p.group_id, p.activity_id, p.pupils, p.distance_km or 0.0, p.preference_rank, tuple(p.pupil_refs))
                for p in snap.current]  # fmt: skip
    cancelled_slots = {aid: slot_key(a.get("slot_start")) for aid, a in snap.rm.activity_data.items()}
    changes = reallocate_groups(inst.groups, inst.activities, previous, snap.waiting, seed=run.seed,
                                pinned=frozenset(inst.pins), slots=cancelled_slots)  # fmt: skip
    return inst, changes


async def reallocate(sessions: async_sessionmaker, outbox: Outbox, programme_id: str, attempts: int = 5) -> dict | None:
    """Re-allocate a published programme (either mode), emitting only the changes; the engine runs
    in a thread. Returns the counts, or None when nothing is published. Raises ``Conflict`` when the
    programme changed during every attempt (the request stays; the worker tries again)."""
    for _ in range(attempts):
        async with sessions() as session:
            version = await _version(session, programme_id)
            snap = await _snapshot(session, programme_id)
        if snap is None:
            async with sessions() as session, session.begin():
                await _claim(session, programme_id, version)
            return None
        inst, changes = await asyncio.to_thread(_plan, snap)
        async with sessions() as session, session.begin():
            if not await _claim(session, programme_id, version):
                continue  # it changed meanwhile: compute again on what is there now
            if snap.run.mode == "individual":
                return await _apply_pupils(session, outbox, snap, inst, changes)
            return await _apply_groups(session, outbox, snap, inst, changes)
    raise Conflict(f"programme {programme_id} kept changing during the re-allocation")


async def reallocate_pending(sessions: async_sessionmaker, outbox: Outbox) -> int:
    """Serve every programme that asked for a re-allocation; returns how many were served."""
    async with sessions() as session:
        waiting = (
            (await session.execute(select(programme_work.c.programme_id).where(programme_work.c.reallocate.is_(True)))).scalars().all()
        )
    for programme_id in waiting:
        await reallocate(sessions, outbox, programme_id)
    return len(waiting)


async def _apply_groups(session: AsyncSession, outbox: Outbox, snap: Snapshot, inst: Instance, changes) -> dict:
    run, programme_id = snap.run, snap.run.programme_id
    by_key = {(p.group_id, p.activity_id, tuple(p.pupil_refs)): p for p in snap.current}
    ended = [(by_key[(part.group_id, part.activity_id, tuple(part.pupil_refs))], why) for part, why in changes.cancelled]
    rows = await _store_parts(session, run.id, programme_id, inst, changes.assigned, active=True, reason="re-allocated",
                              salt=snap.salt)  # fmt: skip
    new_of: dict[str, list[dict]] = {}
    for r in rows:
        new_of.setdefault(r["group_id"], []).append(r)
    old_of: dict[str, list] = {}
    for row, _ in ended:
        old_of.setdefault(row.group_id, []).append(row._mapping)
    for row, why in ended:
        await _cancel(session, outbox, row, why, replaced_by=[r["id"] for r in new_of.get(row.group_id, [])])
    for r in rows:
        await outbox.add(
            session, _assigned(r, inst.activity_data, previous=old_of.get(r["group_id"], [])), subject=f"group/{r['group_id']}"
        )
    released = [g for g in old_of if g in inst.pins]  # a pinned group could not stay (cancelled, withdrawn, capacity)
    if released:
        await session.execute(delete(pins).where(pins.c.programme_id == programme_id, pins.c.group_id.in_(released)))
    await session.execute(delete(waitlist).where(waitlist.c.run_id == run.id))
    await _store_waitlist(session, run.id, programme_id, inst, dict(changes.waitlist) | inst.unlocated)
    for g, why in changes.waitlisted.items():
        pupils = inst.group_pupils.get(g, 0)
        await outbox.add(session, _waitlisted(programme_id, g, inst.school_of.get(g, ""), pupils, g, why))
    return {"assigned": len(rows), "cancelled": len(changes.cancelled), "waitlisted": len(changes.waitlisted),
            "pins_released": len(released)}  # fmt: skip


async def _apply_pupils(session, outbox, snap: Snapshot, inst: Instance, changes) -> dict:
    """Individual mode. The engine works on one part per pupil (``group_id`` = her id); placement
    rows are one per pupil since runs store them so, so a row is either untouched or cancelled
    whole. A row holding several pupils (stored before that, or short of a code erased since) that
    loses some of them is cancelled, and each pupil of it who stays gets a new row at the same
    activity (reason "unchanged activity: ...")."""
    run, current, salt = snap.run, snap.current, snap.salt
    pupils = {p.id: p for p in inst.pupils}
    row_of = {pupil_id(row.group_id, ref): row for row in current for ref in row.pupil_refs}
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
        was = [row._mapping for row in current if row.group_id == r["group_id"] and set(r["pupil_refs"]) & set(row.pupil_refs)
               and row.id in gone]  # fmt: skip
        await outbox.add(session, _assigned(r, inst.activity_data, previous=was), subject=f"group/{r['group_id']}")
    await session.execute(delete(waitlist).where(waitlist.c.run_id == run.id))
    await _store_waitlist(session, run.id, run.programme_id, inst, dict(changes.waitlist) | inst.unlocated)
    for pid, why in changes.waitlisted.items():
        gid = pupils[pid].group_id
        await outbox.add(session, _waitlisted(run.programme_id, gid, inst.school_of.get(gid, ""), 1, pid, why))
    return {"assigned": len(rows), "cancelled": cancelled, "waitlisted": len(changes.waitlisted)}
