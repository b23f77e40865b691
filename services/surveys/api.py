"""JSON API of the surveys service (thin: parse, call, answer)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import insert, update

from shared import problems
from shared.auth import admin
from shared.problems import FieldError, Problem

from . import store
from .context import SurveysContext, surveys
from .domain.questionnaire import QuestionnaireError, parse_questionnaire
from .errors import refusal
from .fast_response import respond
from .jobs import check_reminders, refresh_results
from .submissions import SurveyRefused, open_survey, questionnaire_for
from .teachers import qr_png, school_overview

router = APIRouter(prefix="/api/v1")
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
Token = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$", description="survey token from the invitation link")]
PhaseName = Literal["pre", "post"]
Ctx = Annotated[SurveysContext, Depends(surveys)]


async def teacher(ctx: Ctx, programme_id: Id, school_id: Id, key: Annotated[str | None, Query(max_length=64)] = None) -> None:
    if not ctx.keys.valid(programme_id, school_id, key):
        raise Problem(403, "teacher_link_invalid", "this teacher link is not valid; ask VHTO for the link of your school")


ERRORS = {
    403: {"description": "consent required"},
    404: {"description": "no survey has this token"},
    409: {"description": "already answered, or the phase is not open yet"},
    410: {"description": "the phase has closed"},
}


# --- pupils --------------------------------------------------------------------------------


class SurveyOut(BaseModel):
    phase: PhaseName
    programme_id: str
    questionnaire: str
    closes: datetime
    items: list[dict[str, Any]]


@router.get(
    "/surveys/{token}",
    response_model=SurveyOut,
    responses=ERRORS,
    tags=["pupils"],
    summary="The questionnaire behind a survey token, if it can be answered now",
)
async def get_survey(token: Token, ctx: Ctx):
    try:
        survey = await open_survey(ctx.runtime.engine, token, ctx.windows, ctx.clock())
    except SurveyRefused as exc:
        raise refusal(exc) from None
    q = survey.questionnaire
    return SurveyOut(
        phase=survey.phase,
        programme_id=survey.programme_id,
        questionnaire=q.ref,
        closes=survey.window.closes,
        items=[{"id": i.id, "kind": i.kind, "required": i.required, "text": i.text, "allowed": list(i.allowed_values)} for i in q.items],
    )


class AnswersIn(BaseModel):
    answers: dict[str, int | str | None] = Field(description="item id -> answer (Likert 1..scale, yes/maybe/no, text)")


class Recorded(BaseModel):
    response_id: str


@router.post(
    "/surveys/{token}/response",
    status_code=201,
    response_model=Recorded,
    responses={**ERRORS, 422: {"description": "answers missing or out of range: `errors[]` names each"}},
    tags=["pupils"],
    summary="Record the one response of this token (a second one is refused with 409)",
)
async def post_response(token: Token, body: AnswersIn, ctx: Ctx):
    # The usual request never gets here: fast_response.FastResponseRoute answers it the same way with
    # less overhead. This route documents the API and answers every request the fast path hands on.
    answer = await respond(ctx, token, body.answers)
    if isinstance(answer, Problem):
        raise answer
    return Recorded(**answer)


# --- teachers ------------------------------------------------------------------------------


@router.get(
    "/teacher/{programme_id}/{school_id}",
    tags=["teachers"],
    dependencies=[Depends(teacher)],
    summary="The school's survey links, response counts and reminder state (teacher link key)",
)
async def teacher_overview(programme_id: Id, school_id: Id, ctx: Ctx) -> dict:
    return await school_overview(ctx, programme_id, school_id)


@router.get(
    "/teacher/{programme_id}/{school_id}/qr/{token}.png",
    tags=["teachers"],
    dependencies=[Depends(teacher)],
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: {"description": "no survey of this school has this token"}},
    summary="Printable QR code (PNG) of one pupil's survey link",
)
async def teacher_qr(programme_id: Id, school_id: Id, token: Token, ctx: Ctx) -> Response:
    async with ctx.sessions() as session:
        row = await store.invitation_for_response(session, token)
    if row is None or row.programme_id != programme_id or row.school_id != school_id:
        raise Problem(404, "unknown_token", "no survey of this school has this token")
    return Response(qr_png(ctx.survey_url(token)), media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


# --- VHTO (admin) --------------------------------------------------------------------------


@router.get(
    "/admin/teacher-links/{programme_id}/{school_id}",
    tags=["admin"],
    dependencies=[Depends(admin)],
    summary="The link VHTO sends to a school's teacher",
)
async def teacher_link(programme_id: Id, school_id: Id, ctx: Ctx) -> dict:
    return {"programme_id": programme_id, "school_id": school_id, "url": ctx.teacher_url(programme_id, school_id)}


@router.get(
    "/questionnaires/{programme_id}/{phase}",
    tags=["questionnaires"],
    summary="The questionnaire a programme uses in a phase (admin-defined or shipped)",
)
async def get_questionnaire(programme_id: Id, phase: PhaseName, ctx: Ctx) -> dict:
    async with ctx.sessions() as session:
        row = await store.programme(session, programme_id)
        q = await questionnaire_for(session, programme_id, row.kind if row else None, phase)
    return {
        "ref": q.ref,
        "key": q.key,
        "phase": q.phase,
        "version": q.version,
        "title": q.title,
        "items": [{"id": i.id, "kind": i.kind, "required": i.required, "text": i.text} for i in q.items],
    }


@router.post(
    "/admin/programmes/{programme_id}/questionnaires",
    status_code=201,
    tags=["admin"],
    dependencies=[Depends(admin)],
    responses={409: {"description": "this version exists"}, 422: {"description": "not a valid questionnaire"}},
    summary="Define a new version of a programme's questionnaire (versions only go up)",
)
async def define_questionnaire(programme_id: Id, definition: dict[str, Any], ctx: Ctx):
    try:
        q = parse_questionnaire(definition)
    except QuestionnaireError as exc:
        raise Problem(422, "invalid_questionnaire", str(exc)) from None
    async with ctx.sessions() as session, session.begin():
        latest = await store.latest_questionnaire_version(session, programme_id, q.phase)
        if q.version <= latest:
            raise Problem(409, "version_exists", f"version must be above {latest}; published versions never change", latest_version=latest)
        await session.execute(
            insert(store.questionnaires).values(
                programme_id=programme_id, phase=q.phase, version=q.version, definition=definition, created_at=store.now()
            )
        )
    return {"programme_id": programme_id, "ref": q.ref}


class WindowsIn(BaseModel):
    pre_closes: datetime | None = None
    post_closes: datetime | None = None


@router.put(
    "/admin/programmes/{programme_id}/windows",
    tags=["admin"],
    dependencies=[Depends(admin)],
    responses={404: {"description": "no programme with this id"}, 422: {"description": "a time without its zone"}},
    summary="Set when the pre and post phases close (null: the default)",
)
async def set_windows(programme_id: Id, body: WindowsIn, ctx: Ctx):
    naive = [name for name in ("pre_closes", "post_closes") if (moment := getattr(body, name)) is not None and moment.tzinfo is None]
    if naive:
        raise problems.invalid([FieldError("body", name, "naive_datetime", "give a time zone (e.g. +01:00 or Z)") for name in naive])
    async with ctx.sessions() as session, session.begin():
        result = await session.execute(
            update(store.programmes)
            .where(store.programmes.c.programme_id == programme_id)
            .values(pre_closes=body.pre_closes, post_closes=body.post_closes)
        )
    if result.rowcount == 0:
        raise Problem(404, "unknown_programme", "no programme with this id")
    return {"programme_id": programme_id, "pre_closes": body.pre_closes, "post_closes": body.post_closes}


@router.get(
    "/admin/results/{programme_id}",
    tags=["admin"],
    dependencies=[Depends(admin)],
    responses={404: {"description": "no invitations for this programme yet"}},
    summary="Response rates, paired pre->post shifts and unpaired figures (small groups suppressed)",
)
async def get_results(programme_id: Id, ctx: Ctx, fresh: bool = False):
    if fresh:
        await refresh_results(ctx.sessions, ctx.outbox)
    async with ctx.sessions() as session:
        row = await store.stored_results(session, programme_id)
    if row is None:
        raise Problem(404, "no_results", "no invitations for this programme yet")
    return {**row.figures, "computed_at": store.aware(row.computed_at).isoformat()}


@router.post(
    "/admin/reminders/check",
    tags=["admin"],
    dependencies=[Depends(admin)],
    summary="Check now which schools need a reminder (also runs periodically)",
)
async def run_reminders(ctx: Ctx) -> dict:
    sent = await check_reminders(ctx.sessions, ctx.outbox, ctx.windows, ctx.reminders, ctx.clock())
    return {"sent": [{"programme_id": p, "school_id": s, "phase": ph} for p, s, ph in sent]}
