"""HTTP routes of the registration service: thin — authorise, call `service`, answer.

Every POST (and PUT/PATCH/DELETE) honours an `Idempotency-Key` header (see `idempotency.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Header, Request
from sqlalchemy import select

from services.registration import listings, register
from services.registration import schemas as s
from services.registration import service as cmd
from services.registration.auth import Principal, admin, authenticated, optional
from services.registration.idempotency import execute
from services.registration.store import programmes
from services.registration.tx import read

router = APIRouter(prefix="/api")

IdempotencyKey = Header(
    None, alias="Idempotency-Key", max_length=200, description="a client-chosen unique key; a retry with the same key gets the first answer"
)
AUTH = {
    401: {"description": "no or unknown credentials"},
    403: {"description": "someone else's record, or admin only"},
    404: {"description": "no such record"},
}
WRITE = {
    **AUTH,
    409: {"description": "outside the registration window (the answer gives the deadline), or withdrawn/cancelled"},
    422: {"description": "a rule is broken: `errors[]` names each field and its rule"},
}


def _runtime(request: Request):
    return request.app.state.runtime


async def _read(request: Request, fn):
    return await read(_runtime(request), fn)


@router.get("/ping", tags=["operations"], summary="Trivial endpoint (benchmark baseline)")
async def ping() -> dict:
    return {"pong": True}


# --- programmes (admin) -------------------------------------------------------------------


@router.post(
    "/programmes",
    status_code=201,
    response_model=s.ProgrammeOut,
    tags=["programmes"],
    responses=WRITE,
    summary="Create a programme (draft)",
)
async def create_programme(body: s.ProgrammeIn, request: Request, who: Principal = Depends(admin), _k: str | None = IdempotencyKey):
    return await execute(request, who.key(), lambda conn: (201, cmd.create_programme(conn, body)))


@router.post("/programmes/{programme_id}/open", response_model=s.ProgrammeOut, tags=["programmes"], responses=WRITE,
             summary="Open a programme (draft -> open)")  # fmt: skip
async def open_programme(programme_id: str, request: Request, who: Principal = Depends(admin), _k: str | None = IdempotencyKey):
    return await _programme_status(request, who, programme_id, "open")


@router.post("/programmes/{programme_id}/close", response_model=s.ProgrammeOut, tags=["programmes"], responses=WRITE,
             summary="Close a programme (open -> closed)")  # fmt: skip
async def close_programme(programme_id: str, request: Request, who: Principal = Depends(admin), _k: str | None = IdempotencyKey):
    return await _programme_status(request, who, programme_id, "closed")


async def _programme_status(request: Request, who: Principal, programme_id: str, to: str):
    outbox = _runtime(request).outbox
    return await execute(request, who.key(), lambda conn: (200, cmd.change_programme_status(conn, outbox, programme_id, to)))


@router.get("/programmes", response_model=list[s.ProgrammeOut], tags=["programmes"], summary="All programmes (public)")
async def list_programmes(request: Request):
    return await _read(request, lambda conn: _all(conn, select(programmes).order_by(programmes.c.event_date), cmd.programme_out))


@router.get("/programmes/{programme_id}", response_model=s.ProgrammeOut, tags=["programmes"], responses={404: AUTH[404]})
async def get_programme(programme_id: str, request: Request):
    def one(conn):
        return cmd.programme_out(cmd.load_programme(conn, programme_id))

    return await _read(request, one)


@router.get(
    "/programmes/{programme_id}/activities",
    response_model=list[s.ActivityOut],
    tags=["programmes"],
    responses={404: AUTH[404]},
    summary="The activities on offer in a programme (public: what schools may name as preferences)",
)
async def programme_activities(programme_id: str, request: Request):
    return await _read(request, offer_listing(programme_id))


def offer_listing(programme_id: str):
    return lambda conn: listings.activities_on_offer(conn, programme_id)


# --- schools --------------------------------------------------------------------------------


@router.post(
    "/schools",
    status_code=201,
    response_model=s.SchoolRegisteredOut,
    tags=["schools"],
    responses={409: {"description": "a school with this BRIN exists; `existing.href` points at it"}, 422: WRITE[422]},
    summary="Register a school (once); the answer holds its account secret",
)
async def register_school(body: s.SchoolIn, request: Request, who: Principal = Depends(optional), _k: str | None = IdempotencyKey):
    return await execute(request, who.key(), school_registration(_runtime(request), body))


def school_registration(runtime, body: s.SchoolIn):
    def act(conn):
        school, secret = cmd.register_school(conn, runtime.outbox, cmd.school_of(body))
        return 201, {"school": school, "account_secret": secret}

    return act


@router.get("/schools/{school_id}", response_model=s.SchoolOut, tags=["schools"], responses=AUTH)
async def get_school(school_id: str, request: Request, who: Principal = Depends(authenticated)):
    def one(conn):
        return cmd.school_out(cmd.load_school(conn, who, school_id))

    return await _read(request, one)


@router.post(
    "/schools/{school_id}/groups",
    status_code=201,
    response_model=s.GroupOut,
    tags=["groups"],
    responses=WRITE,
    summary="Register a group of this school for a programme",
)
async def register_group(
    school_id: str, body: s.GroupIn, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey
):
    return await execute(request, who.key(), group_registration(_runtime(request), who, school_id, body))


def group_registration(runtime, who: Principal, school_id: str, body: s.GroupIn):
    return lambda conn: (201, cmd.register_group(conn, runtime.outbox, who, school_id, body))


@router.get("/schools/{school_id}/groups", response_model=list[s.GroupOut], tags=["groups"], responses=AUTH)
async def list_groups(school_id: str, request: Request, who: Principal = Depends(authenticated)):
    return await _read(request, groups_listing(who, school_id))


def groups_listing(who: Principal, school_id: str):
    return lambda conn: listings.groups_of_school(conn, who, school_id)


@router.get("/groups/{group_id}", response_model=s.GroupOut, tags=["groups"], responses=AUTH)
async def get_group(group_id: str, request: Request, who: Principal = Depends(authenticated)):
    def one(conn):
        return cmd.group_out(cmd.load_group(conn, who, group_id))

    return await _read(request, one)


@router.put(
    "/groups/{group_id}",
    response_model=s.GroupOut,
    tags=["groups"],
    responses=WRITE,
    summary="Replace a group (before the deadline): every field is required; to change some, PATCH",
)
async def update_group(
    group_id: str, body: s.GroupUpdate, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey
):
    return await execute(request, who.key(), lambda conn: (200, cmd.update_group(conn, _runtime(request).outbox, who, group_id, body)))


@router.patch(
    "/groups/{group_id}",
    response_model=s.GroupOut,
    tags=["groups"],
    responses=WRITE,
    summary="Change some of a group's fields (before the deadline); what is not named stays as it is",
)
async def patch_group(
    group_id: str, body: s.GroupPatch, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey
):
    return await execute(request, who.key(), lambda conn: (200, cmd.patch_group(conn, _runtime(request).outbox, who, group_id, body)))


@router.put(
    "/groups/{group_id}/rankings",
    response_model=s.GroupOut,
    tags=["groups"],
    responses=WRITE,
    summary="Pupils rank activities (individual-mode programmes)",
)
async def rank(
    group_id: str, body: s.RankingsIn, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey
):
    return await execute(request, who.key(), lambda conn: (200, cmd.rank_activities(conn, _runtime(request).outbox, who, group_id, body)))


@router.post(
    "/groups/{group_id}/withdraw",
    response_model=s.GroupOut,
    tags=["groups"],
    responses=WRITE,
    summary="Withdraw a group (before the deadline)",
)
async def withdraw_group(group_id: str, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey):
    return await execute(request, who.key(), lambda conn: (200, cmd.withdraw_group(conn, _runtime(request).outbox, who, group_id)))


@router.delete(
    "/groups/{group_id}/pupils/{pupil_ref}",
    response_model=s.GroupOut,
    tags=["groups"],
    responses=AUTH,
    summary="Erase a pupil entry everywhere (publishes registration.pupil.erased)",
)
async def erase_pupil(
    group_id: str, pupil_ref: str, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey
):
    return await execute(request, who.key(), lambda conn: (200, cmd.erase_pupil(conn, _runtime(request).outbox, who, group_id, pupil_ref)))


# --- companies ------------------------------------------------------------------------------


@router.post(
    "/companies",
    status_code=201,
    response_model=s.CompanyRegisteredOut,
    tags=["companies"],
    responses={409: {"description": "a company with this KvK number exists; `existing.href` points at it"}, 422: WRITE[422]},
    summary="Register a company (once); the answer holds its account secret",
)
async def register_company(body: s.CompanyIn, request: Request, who: Principal = Depends(optional), _k: str | None = IdempotencyKey):
    return await execute(request, who.key(), company_registration(_runtime(request), body))


def company_registration(runtime, body: s.CompanyIn):
    def act(conn):
        company, secret = cmd.register_company(conn, runtime.outbox, cmd.company_of(body))
        return 201, {"company": company, "account_secret": secret}

    return act


@router.get("/companies/{company_id}", response_model=s.CompanyOut, tags=["companies"], responses=AUTH)
async def get_company(company_id: str, request: Request, who: Principal = Depends(authenticated)):
    def one(conn):
        return cmd.company_out(cmd.load_company(conn, who, company_id))

    return await _read(request, one)


@router.post(
    "/companies/{company_id}/activities",
    status_code=201,
    response_model=s.ActivityOut,
    tags=["activities"],
    responses=WRITE,
    summary="Register an activity of this company for a programme",
)
async def register_activity(
    company_id: str, body: s.ActivityIn, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey
):
    return await execute(request, who.key(), activity_registration(_runtime(request), who, company_id, body))


def activity_registration(runtime, who: Principal, company_id: str, body: s.ActivityIn):
    return lambda conn: (201, cmd.register_activity(conn, runtime.outbox, who, company_id, body))


@router.get("/companies/{company_id}/activities", response_model=list[s.ActivityOut], tags=["activities"], responses=AUTH)
async def list_activities(company_id: str, request: Request, who: Principal = Depends(authenticated)):
    return await _read(request, lambda conn: cmd.list_activities(conn, who, company_id))


@router.get("/activities/{activity_id}", response_model=s.ActivityOut, tags=["activities"], responses=AUTH)
async def get_activity(activity_id: str, request: Request, who: Principal = Depends(authenticated)):
    def one(conn):
        return cmd.activity_out(cmd.load_activity(conn, who, activity_id))

    return await _read(request, one)


@router.put(
    "/activities/{activity_id}",
    response_model=s.ActivityOut,
    tags=["activities"],
    responses=WRITE,
    summary="Replace an activity (before the deadline): every field is required; to change some, PATCH",
)
async def update_activity(
    activity_id: str, body: s.ActivityUpdate, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey
):
    return await execute(
        request, who.key(), lambda conn: (200, cmd.update_activity(conn, _runtime(request).outbox, who, activity_id, body))
    )


@router.patch(
    "/activities/{activity_id}",
    response_model=s.ActivityOut,
    tags=["activities"],
    responses=WRITE,
    summary="Change some of an activity's fields (before the deadline; the capacity alone until the event day)",
)
async def patch_activity(
    activity_id: str, body: s.ActivityPatch, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey
):
    return await execute(request, who.key(), lambda conn: (200, cmd.patch_activity(conn, _runtime(request).outbox, who, activity_id, body)))


@router.put(
    "/activities/{activity_id}/capacity",
    response_model=s.ActivityOut,
    tags=["activities"],
    responses=WRITE,
    summary="Change capacity (until the event day)",
)
async def change_capacity(
    activity_id: str, body: s.CapacityIn, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey
):
    return await execute(
        request, who.key(), lambda conn: (200, cmd.change_capacity(conn, _runtime(request).outbox, who, activity_id, body.capacity))
    )


@router.post(
    "/activities/{activity_id}/cancel",
    response_model=s.ActivityOut,
    tags=["activities"],
    responses=WRITE,
    summary="Cancel an activity (until the event day)",
)
async def cancel_activity(activity_id: str, request: Request, who: Principal = Depends(authenticated), _k: str | None = IdempotencyKey):
    return await execute(request, who.key(), lambda conn: (200, cmd.cancel_activity(conn, _runtime(request).outbox, who, activity_id)))


# --- bulk import (admin) --------------------------------------------------------------------

CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "brin;name;level;postcode;municipality;contact_name;contact_email;contact_phone\n"
                "12AB;OBS De Klimop;po;1234 AB;Utrecht;Juf Ans;ans@klimop.nl;030 123 4567\n",
            }
        },
    }
}


@router.post(
    "/imports/{kind}",
    response_model=s.ImportReport,
    tags=["imports"],
    openapi_extra=CSV_BODY,
    responses=AUTH,
    summary="Import a CSV list of schools or companies; a per-row report (importing twice changes nothing)",
)
async def import_csv(
    kind: Literal["schools", "companies"], request: Request, who: Principal = Depends(admin), _k: str | None = IdempotencyKey
):
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # Excel on Windows
    singular = {"schools": "school", "companies": "company"}[kind]
    return await execute(request, who.key(), lambda conn: (200, cmd.import_csv(conn, _runtime(request).outbox, singular, text)))


# --- the ESF+ participant register (energy-transition programmes) ------------------------------


def _vault(request: Request):
    return request.app.state.vault


def _today():
    return datetime.now(UTC).date()


@router.post(
    "/programmes/{programme_id}/participants",
    status_code=201,
    tags=["participants"],
    responses=WRITE,
    summary="Register a participant (herself, or a partner employer its employee); 200 if her person number is known",
)
async def register_participant(programme_id: str, body: s.ParticipantIn, request: Request, who: Principal = Depends(optional),
                               _k: str | None = IdempotencyKey):  # fmt: skip
    runtime, vault = _runtime(request), _vault(request)
    return await execute(request, who.key(), lambda conn: register.register_participant(
        conn, runtime.outbox, vault, who, programme_id, body, _today()))  # fmt: skip


@router.get(
    "/programmes/{programme_id}/participants",
    tags=["participants"],
    responses=AUTH,
    summary="The register of a programme (staff: all; a partner employer: its own); `reveal=true`: with person numbers (staff)",
)
async def list_participants(programme_id: str, request: Request, reveal: bool = False, who: Principal = Depends(authenticated)):
    return await _read(request, lambda conn: register.list_participants(conn, _vault(request), who, programme_id, reveal=reveal))


@router.get("/participants/{participant_id}", tags=["participants"], responses=AUTH)
async def get_participant(participant_id: str, request: Request, who: Principal = Depends(authenticated)):
    return await _read(request, lambda conn: register.participant_out(register.load_participant(conn, who, participant_id)))


@router.delete(
    "/participants/{participant_id}",
    tags=["participants"],
    responses=AUTH,
    summary="Erase a participant from the register (her right; publishes registration.participant.erased)",
)
async def erase_participant(participant_id: str, request: Request, who: Principal = Depends(admin), _k: str | None = IdempotencyKey):
    outbox = _runtime(request).outbox
    return await execute(request, who.key(), lambda conn: (200, register.erase_participant(conn, outbox, who, participant_id)))


@router.post(
    "/activities/{activity_id}/attendance",
    tags=["participants"],
    responses=WRITE,
    summary="Record who attended an energy-transition activity on a day (staff or the activity's company)",
)
async def record_attendance(activity_id: str, body: s.AttendanceIn, request: Request, who: Principal = Depends(authenticated),
                            _k: str | None = IdempotencyKey):  # fmt: skip
    outbox = _runtime(request).outbox
    return await execute(request, who.key(), lambda conn: (200, register.record_attendance(conn, outbox, who, activity_id, body)))


@router.put(
    "/programmes/{programme_id}/retention/{period}",
    tags=["participants"],
    responses=WRITE,
    summary="A partner employer's retention figures for a period (aggregates only)",
)
async def report_retention(programme_id: str, period: str, body: s.RetentionIn, request: Request, who: Principal = Depends(authenticated),
                           _k: str | None = IdempotencyKey):  # fmt: skip
    outbox = _runtime(request).outbox
    return await execute(request, who.key(), lambda conn: (200, register.report_retention(conn, outbox, who, programme_id, period, body)))


@router.get("/programmes/{programme_id}/retention", tags=["participants"], responses=AUTH)
async def list_retention(programme_id: str, request: Request, who: Principal = Depends(authenticated)):
    return await _read(request, lambda conn: register.retention_of(conn, who, programme_id))


@router.get(
    "/programmes/{programme_id}/register/indicators",
    tags=["participants"],
    responses=AUTH,
    summary="The ESF+ common output indicators by gender (staff)",
)
async def register_indicators(programme_id: str, request: Request, who: Principal = Depends(admin)):
    return await _read(request, lambda conn: register.indicator_table(conn, programme_id))


@router.get(
    "/programmes/{programme_id}/register/bsn-report/{year}",
    tags=["participants"],
    responses=AUTH,
    summary="The yearly BSN report (staff): person numbers of everyone active in the year",
)
async def bsn_report(programme_id: str, year: int, request: Request, who: Principal = Depends(admin)):
    return await _read(request, lambda conn: register.bsn_report(conn, _vault(request), programme_id, year))


@router.put(
    "/programmes/{programme_id}/register",
    tags=["participants"],
    responses=WRITE,
    summary="Until when the register's data are kept (staff); a daily job deletes them after it",
)
async def register_settings(programme_id: str, body: s.KeepUntilIn, request: Request, who: Principal = Depends(admin),
                            _k: str | None = IdempotencyKey):  # fmt: skip
    return await execute(request, who.key(), lambda conn: (200, register.set_keep_until(conn, programme_id, body.keep_until)))


# --- helpers --------------------------------------------------------------------------------


def _all(conn, query, out):
    return [out(r) for r in conn.execute(query)]
