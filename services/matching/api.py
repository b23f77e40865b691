"""HTTP routes of the matching service (admin only): runs, placements, waiting list, explanations,
CSV export."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.matching import decisions, service
from services.matching.domain.explain import explain_pupil
from services.matching.explanations import explain as explain_group_words
from services.matching.explanations import rule as explain_rule
from services.matching.explanations import text as explain_text
from services.matching.store import placements, runs, waitlist
from shared.auth import admin
from shared.problems import Problem

router = APIRouter(prefix="/api", dependencies=[Depends(admin)])


class RunRequest(BaseModel):
    seed: int | None = None
    max_placed: bool = False


def _runtime(request: Request):
    return request.app.state.runtime


@router.post("/programmes/{programme_id}/runs", status_code=201)
async def start_run(programme_id: str, body: RunRequest, request: Request) -> dict:
    try:
        return await service.start_run(_runtime(request).sessions, programme_id, body.seed, body.max_placed)
    except service.RunInProgress:
        raise Problem(409, "run_in_progress", f"a run for programme {programme_id} is in progress") from None
    except service.NotFound as exc:
        raise Problem(404, "not_found", str(exc)) from None


@router.get("/runs/{run_id}")
async def get_run(run_id: str, request: Request) -> dict:
    try:
        return await service.get_run(_runtime(request).sessions, run_id)
    except service.NotFound as exc:
        raise Problem(404, "not_found", str(exc)) from None


@router.get("/programmes/{programme_id}/runs")
async def list_runs(programme_id: str, request: Request) -> list[dict]:
    async with _runtime(request).sessions() as session:
        rows = (await session.execute(select(runs).where(runs.c.programme_id == programme_id).order_by(runs.c.created_at))).all()
    return [service._run_dict(r) for r in rows]


@router.post("/runs/{run_id}/publish")
async def publish(run_id: str, request: Request) -> dict:
    rt = _runtime(request)
    try:
        async with rt.sessions() as session, session.begin():
            return await service.publish(session, rt.outbox, run_id)
    except service.NotFound as exc:
        raise Problem(404, "not_found", str(exc)) from None
    except service.Conflict as exc:
        raise Problem(409, "conflict", str(exc)) from None


@router.post("/programmes/{programme_id}/reallocate")
async def reallocate(programme_id: str, request: Request) -> dict:
    rt = _runtime(request)
    try:
        result = await service.reallocate(rt.sessions, rt.outbox, programme_id)
    except service.Conflict as exc:
        raise Problem(409, "conflict", str(exc)) from None
    if result is None:
        raise Problem(409, "nothing_published", "no published allocation to re-allocate")
    return result


async def _placements(request: Request, programme_id: str, run_id: str | None, **filters) -> list[dict]:
    q = select(placements).where(placements.c.programme_id == programme_id)
    q = q.where(placements.c.run_id == run_id) if run_id else q.where(placements.c.active.is_(True))
    for column, value in filters.items():
        if value is not None:
            q = q.where(placements.c[column] == value)
    async with _runtime(request).sessions() as session:
        rows = (await session.execute(q.order_by(placements.c.group_id, placements.c.activity_id))).all()
    return [dict(r._mapping) for r in rows]


@router.get("/programmes/{programme_id}/placements")
async def list_placements(programme_id: str, request: Request, run_id: str | None = None,
                          school_id: str | None = None, activity_id: str | None = None) -> list[dict]:  # fmt: skip
    """Current (published) placements, or those of a run's proposal with ``run_id``."""
    return await _placements(request, programme_id, run_id, school_id=school_id, activity_id=activity_id)


@router.get("/runs/{run_id}/placements.csv", response_class=PlainTextResponse)
async def export_csv(run_id: str, request: Request) -> PlainTextResponse:
    run = await get_run(run_id, request)
    rows = await _placements(request, run["programme_id"], run_id)
    out = io.StringIO()
    fields = ["group_id", "school_id", "activity_id", "company_id", "pupils", "distance_km", "preference_rank", "active", "reason"]
    writer = csv.DictWriter(out, fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return PlainTextResponse(out.getvalue(), media_type="text/csv",
                             headers={"content-disposition": f'attachment; filename="allocation-{run_id}.csv"'})  # fmt: skip


@router.get("/programmes/{programme_id}/waitlist")
async def list_waitlist(programme_id: str, request: Request, run_id: str | None = None) -> list[dict]:
    async with _runtime(request).sessions() as session:
        if run_id is None:
            run_id = (await session.execute(select(runs.c.id).where(runs.c.programme_id == programme_id)
                                            .order_by((runs.c.status == "published").desc(), runs.c.created_at.desc()))).scalar()  # fmt: skip
        rows = (await session.execute(select(waitlist).where(waitlist.c.run_id == run_id))).all()
    return [dict(r._mapping) for r in rows]


async def resolve_run(session, programme_id: str, run_id: str | None):
    """The run a question is about: the one named, else the published one, else the latest
    proposal. So an explanation says the same whether or not the run is named."""
    if run_id is not None:
        return (await session.execute(select(runs).where(runs.c.id == run_id, runs.c.programme_id == programme_id))).first()
    q = select(runs).where(runs.c.programme_id == programme_id)
    return (await session.execute(q.order_by((runs.c.status == "published").desc(), runs.c.created_at.desc()))).first()


async def run_parts(session, run) -> list[service.Part]:
    """The placements of a run as it stands: a proposal's rows, or a published run's active ones."""
    q = select(placements).where(placements.c.run_id == run.id)
    if run.status == "published":
        q = q.where(placements.c.active.is_(True))
    rows = (await session.execute(q.order_by(placements.c.group_id, placements.c.activity_id))).all()
    return [service.Part(r.group_id, r.activity_id, r.pupils, r.distance_km or 0.0, r.preference_rank, tuple(r.pupil_refs)) for r in rows]


@router.get("/programmes/{programme_id}/explanations/{unit_id:path}")
async def explain(programme_id: str, unit_id: str, request: Request, run_id: str | None = None, lang: str = "nl") -> dict:
    """Why a group or a pupil got what it got, in Dutch (``lang=en``: English), with names. The run
    is the one named, else the published one, else the latest proposal. ``unit_id`` is a group id,
    or in individual mode a pupil as ``<group_id>/<pupil_ref>`` (the waiting list's ``unit_id``):
    pupil codes are unique only within their group, so a bare code names no single pupil (404)."""
    rt = _runtime(request)
    async with rt.sessions() as session:
        try:
            inst = await service.load_instance(session, programme_id)
        except service.NotFound as exc:
            raise Problem(404, "not_found", str(exc)) from None
        run = await resolve_run(session, programme_id, run_id)
        if run is None and run_id is not None:
            raise Problem(404, "not_found", f"unknown run {run_id}")
        parts = await run_parts(session, run) if run else []
        wait = (
            {w.unit_id: w.reason for w in (await session.execute(select(waitlist).where(waitlist.c.run_id == run.id))).all()} if run else {}
        )
        pinned = set(inst.pins)
    group = next((g for g in inst.groups if g.id == unit_id), None)
    if group is not None:
        words = explain_group_words(inst, group, parts, wait, lang, unit_id in pinned, no_run=run is None)
        return words | {"run_id": run.id if run else None, "run_status": run.status if run else None}
    pupil = next((p for p in inst.pupils if p.id == unit_id), None)
    if pupil is not None and inst.mode == "individual":
        assignment = {service.pupil_id(p.group_id, ref): p.activity_id for p in parts for ref in p.pupil_refs}
        view = type("View", (), {"assignment": assignment, "waitlist": wait})
        return explain_pupil(pupil, inst.activities, view, 10.0) | {"run_id": run.id if run else None}
    if unit_id in inst.unlocated:
        why = explain_text(lang, "waiting_location", why=inst.unlocated[unit_id].removeprefix("location unknown (").rstrip(")"))
        return {"group_id": unit_id, "placed": [], "why": why, "options": [], "run_id": run.id if run else None}
    raise Problem(404, "not_found", f"unknown group or pupil {unit_id} (a pupil is <group_id>/<pupil_ref>)")


class PartIn(BaseModel):
    activity_id: str = Field(min_length=1, max_length=64)
    pupils: int = Field(ge=1, le=1000)


class DecisionIn(BaseModel):
    version: str = Field(min_length=1, max_length=64, description="the group's state the decision is made on (GET .../groups/{id})")
    reason: str = Field(min_length=3, max_length=500, description="why (recorded with who decided)")


class MoveIn(DecisionIn):
    parts: list[PartIn] = Field(min_length=1, max_length=10, description="where the group goes: one part, or its allowed parts")
    pin: bool = Field(True, description="keep it there in later runs and re-allocations until released")


async def _decide(request: Request, run_id: str, group_id: str, d: decisions.Decision) -> dict:
    rt = _runtime(request)
    lang = request.query_params.get("lang", "nl")
    try:
        async with rt.sessions() as session, session.begin():
            return await decisions.decide(session, rt.outbox, run_id, group_id, d)
    except service.NotFound as exc:
        raise Problem(404, "not_found", str(exc)) from None
    except service.Conflict as exc:
        raise Problem(409, "conflict", str(exc)) from None
    except decisions.Stale as exc:
        raise Problem(409, "stale_decision", "the group changed since you looked: this is its current state", current=exc.current) from None
    except decisions.Refused as exc:
        rules = [{"rule": code, "figures": figures, "message": explain_rule(lang, code, figures)} for code, figures in exc.problems]
        raise Problem(422, "placement_refused", "this placement breaks the rules", rules=rules) from None


@router.get("/runs/{run_id}/groups/{group_id}")
async def group_state(run_id: str, group_id: str, request: Request) -> dict:
    """A group's placement in a run, its pin and the ``version`` a decision must name."""
    async with _runtime(request).sessions() as session:
        run = (await session.execute(select(runs).where(runs.c.id == run_id))).first()
        if run is None:
            raise Problem(404, "not_found", f"unknown run {run_id}")
        return await decisions.group_state(session, run, group_id)


@router.put("/runs/{run_id}/groups/{group_id}/placement")
async def move_group(run_id: str, group_id: str, body: MoveIn, request: Request) -> dict:
    """Move a group, or place a waiting one by hand (staff): every rule is checked (422 names the
    rules broken); 409 with the current state when the group changed since ``version``."""
    parts = tuple((p.activity_id, p.pupils) for p in body.parts)
    return await _decide(request, run_id, group_id, decisions.Decision("move", body.version, body.reason, _actor(request), parts, body.pin))


@router.post("/runs/{run_id}/groups/{group_id}/pin")
async def pin_group(run_id: str, group_id: str, body: DecisionIn, request: Request) -> dict:
    return await _decide(request, run_id, group_id, decisions.Decision("pin", body.version, body.reason, _actor(request)))


@router.post("/runs/{run_id}/groups/{group_id}/release")
async def release_group(run_id: str, group_id: str, body: DecisionIn, request: Request) -> dict:
    return await _decide(request, run_id, group_id, decisions.Decision("release", body.version, body.reason, _actor(request)))


def _actor(request: Request) -> str:
    """Who decides: the admin token for now (the staff session of issue 12 names the person)."""
    return "admin-token"
