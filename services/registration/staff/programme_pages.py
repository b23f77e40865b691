"""Programmes for staff: list with totals against targets, create, edit, open, close.

Dates and times are entered and shown in Europe/Amsterdam and stored in UTC. Every form is
checked as a whole (each field's message beside it); opening and closing say what will happen
first; every change is in the audit log.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from services.registration import schemas
from services.registration import service as cmd
from services.registration.domain.errors import Invalid
from services.registration.errors import Conflict, NotFound
from services.registration.staff import registrations
from services.registration.tx import read, write
from services.registration.web import LOCAL, errors_of, kit, lang, t
from shared import audit, staff
from shared.staff import Role, StaffSession

router = APIRouter(include_in_schema=False)
KIJKER, MEDEWERKER = staff.require(Role.kijker), staff.require(Role.medewerker)
FIELDS = (
    "kind",
    "name",
    "event_date",
    "opens_on",
    "opens_time",
    "closes_on",
    "closes_time",
    "allocation_mode",
    "min_group_size",
    "max_group_size",
    "min_age",
    "max_age",
    "target_pupils",
    "target_schools",
    "target_companies",
)


def local_text(moment: datetime | None, with_time: bool = True) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives naive UTC
    return aware.astimezone(LOCAL).strftime("%d-%m-%Y %H:%M" if with_time else "%d-%m-%Y")


def form_values(p: dict) -> dict:
    """A programme (as `programme_out` gives it) as the form's fields, in Europe/Amsterdam."""
    opens, closes = p["opens_at"].astimezone(LOCAL), p["closes_at"].astimezone(LOCAL)
    return {
        "kind": p["kind"],
        "name": p["name"],
        "event_date": p["event_date"].isoformat(),
        "opens_on": opens.date().isoformat(),
        "opens_time": opens.strftime("%H:%M"),
        "closes_on": closes.date().isoformat(),
        "closes_time": closes.strftime("%H:%M"),
        "allocation_mode": p["allocation_mode"],
        "min_group_size": p["min_group_size"],
        "max_group_size": p["max_group_size"] or "",
        "min_age": p["min_age"],
        "max_age": p["max_age"],
        "target_pupils": p["targets"]["pupils"],
        "target_schools": p["targets"]["schools"],
        "target_companies": p["targets"]["companies"],
    }


def parse(request: Request, values: dict) -> tuple[schemas.ProgrammeIn | None, dict]:
    """The form as a programme body, or every field's problem at once (Dutch messages)."""
    tr = t(request)
    errors: dict[str, str] = {}

    def day(name: str) -> date | None:
        raw = str(values.get(name, "")).strip()
        if not raw:
            errors[name] = tr("rule_date_missing").format(field=tr(name))
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = tr("rule_date_format").format(field=tr(name))
            return None

    def clock(name: str, default: str) -> time | None:
        raw = str(values.get(name, "")).strip() or default
        try:
            return time.fromisoformat(raw)
        except ValueError:
            errors[name] = tr("rule_time_format").format(field=tr(name.replace("_time", "_on")))
            return None

    def whole(name: str, default: int | None = None) -> int | None:
        raw = str(values.get(name, "")).strip()
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            errors[name] = tr("rule_whole_number").format(field=tr(name))
            return None

    event, opens_on, closes_on = day("event_date"), day("opens_on"), day("closes_on")
    opens_time, closes_time = clock("opens_time", "09:00"), clock("closes_time", "17:00")
    numbers = {n: whole(n) for n in ("min_group_size", "max_group_size", "min_age", "max_age")}
    targets = {n: whole(f"target_{n}", 0) for n in ("pupils", "schools", "companies")}
    raw = {
        "kind": values.get("kind") or None,
        "name": str(values.get("name", "")).strip(),
        "event_date": event,
        "opens_at": datetime.combine(opens_on, opens_time, LOCAL) if opens_on and opens_time else None,
        "closes_at": datetime.combine(closes_on, closes_time, LOCAL) if closes_on and closes_time else None,
        "allocation_mode": values.get("allocation_mode") or None,
        "targets": {k: v for k, v in targets.items() if v is not None},
        **{k: v for k, v in numbers.items() if v is not None},
    }
    try:
        body = schemas.ProgrammeIn.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        for e in exc.errors():
            name = _form_field(e["loc"])
            specific = tr(f"rule_{name}_{e['type']}")
            errors.setdefault(name, specific if specific != f"rule_{name}_{e['type']}" else kit.rule_text(lang(request), e["type"]))
        return None, errors
    return (None if errors else body), errors


def _form_field(loc) -> str:
    first = str(loc[0]) if loc else ""
    if first == "targets" and len(loc) > 1:
        return f"target_{loc[1]}"
    return {"opens_at": "opens_on", "closes_at": "closes_on"}.get(first, first)


def _domain_errors(request: Request, exc: Invalid) -> dict:
    return {_form_field([k]): v for k, v in errors_of(request, exc).items()}


def _choices(request: Request) -> dict:
    tr = t(request)
    return {
        "kinds": [("girls_day", tr("kind_girls_day")), ("energy_transition", tr("kind_energy_transition"))],
        "modes": [("", tr("mode_default")), ("groups", tr("mode_groups")), ("individual", tr("mode_individual"))],
    }


def _view(p: dict, totals: dict | None = None) -> dict:
    return {
        **p,
        "event_text": p["event_date"].strftime("%d-%m-%Y"),
        "opens_text": local_text(p["opens_at"]),
        "closes_text": local_text(p["closes_at"]),
        "totals": totals or registrations.EMPTY_TOTALS,
    }


@router.get("/staff/programmes")
async def programme_list(request: Request, who: StaffSession = KIJKER):
    rows, totals = await read(request.app.state.runtime, registrations.programmes_with_totals)
    return kit.render(
        request, "staff_programmes.html", programmes=[_view(p, totals.get(p["id"])) for p in rows], can_write=who.can(Role.medewerker)
    )


@router.get("/staff/programmes/new")
async def new_form(request: Request, who: StaffSession = MEDEWERKER):
    return kit.render(
        request,
        "staff_programme_form.html",
        v={"kind": "girls_day", "opens_time": "09:00", "closes_time": "17:00"},
        action="/staff/programmes/new",
        **_choices(request),
    )


@router.post("/staff/programmes/new")
async def create(request: Request, who: StaffSession = MEDEWERKER):
    runtime = request.app.state.runtime
    values = {k: (await request.form()).get(k, "") for k in FIELDS}
    body, errors = parse(request, values)
    context = {"v": values, "action": "/staff/programmes/new", **_choices(request)}
    if body is None:
        return kit.render(request, "staff_programme_form.html", 422, errors=errors, **context)

    def act(conn):
        created = cmd.create_programme(conn, body)
        audit.record_sync(conn, runtime.outbox, who, "programme.created", subject=("programme", created["id"]), programme_id=created["id"])
        return created

    try:
        created = await write(runtime, act)
    except Invalid as exc:
        return kit.render(request, "staff_programme_form.html", 422, errors=_domain_errors(request, exc), **context)
    return RedirectResponse(f"/staff/programmes/{created['id']}?done=created&lang={lang(request)}", 303)


async def _programme(request: Request, programme_id: str) -> dict | None:
    try:
        return await read(request.app.state.runtime, lambda conn: cmd.programme_out(cmd.load_programme(conn, programme_id)))
    except NotFound:
        return None


def _not_found(request: Request):
    return kit.render(request, "message.html", 404, title=t(request)("programme_not_found"), paragraphs=[])


@router.get("/staff/programmes/{programme_id}")
async def detail(request: Request, programme_id: str, who: StaffSession = KIJKER):
    programme = await _programme(request, programme_id)
    if programme is None:
        return _not_found(request)
    totals = await read(request.app.state.runtime, lambda conn: registrations.totals(conn, [programme_id]).get(programme_id))
    return kit.render(
        request,
        "staff_programme.html",
        programme=_view(programme, totals),
        done=request.query_params.get("done"),
        notice=request.query_params.get("refused"),
        can_write=who.can(Role.medewerker),
    )


@router.get("/staff/programmes/{programme_id}/edit")
async def edit_form(request: Request, programme_id: str, who: StaffSession = MEDEWERKER):
    programme = await _programme(request, programme_id)
    if programme is None:
        return _not_found(request)
    return kit.render(
        request,
        "staff_programme_form.html",
        v=form_values(programme),
        programme=programme,
        action=f"/staff/programmes/{programme_id}/edit",
        **_choices(request),
    )


@router.post("/staff/programmes/{programme_id}/edit")
async def edit(request: Request, programme_id: str, who: StaffSession = MEDEWERKER):
    runtime = request.app.state.runtime
    programme = await _programme(request, programme_id)
    if programme is None:
        return _not_found(request)
    values = {k: (await request.form()).get(k, "") for k in FIELDS}
    body, errors = parse(request, values)
    context = {"v": values, "programme": programme, "action": f"/staff/programmes/{programme_id}/edit", **_choices(request)}
    if body is None:
        return kit.render(request, "staff_programme_form.html", 422, errors=errors, **context)

    def act(conn):
        updated = cmd.update_programme(conn, runtime.outbox, programme_id, body)
        changed = sorted(k for k, v in form_values(updated).items() if str(v) != str(form_values(programme)[k]))
        audit.record_sync(
            conn,
            runtime.outbox,
            who,
            "programme.updated",
            subject=("programme", programme_id),
            programme_id=programme_id,
            fields=" ".join(changed),
        )

    try:
        await write(runtime, act)
    except Invalid as exc:
        return kit.render(request, "staff_programme_form.html", 422, errors=_domain_errors(request, exc), **context)
    except Conflict:
        return kit.render(request, "staff_programme_form.html", 409, refusal=t(request)("programme_closed_no_edit"), **context)
    return RedirectResponse(f"/staff/programmes/{programme_id}?done=updated&lang={lang(request)}", 303)


@router.get("/staff/programmes/{programme_id}/{action}")
async def status_confirm(request: Request, programme_id: str, action: str, who: StaffSession = MEDEWERKER):
    if action not in ("open", "close"):
        return _not_found(request)
    programme = await _programme(request, programme_id)
    if programme is None:
        return _not_found(request)
    tr = t(request)
    view = _view(programme)
    return kit.render(
        request,
        "confirm.html",
        title=tr(f"{action}_title").format(name=programme["name"]),
        consequences=[tr(f"{action}_consequence").format(opens=view["opens_text"], closes=view["closes_text"])],
        action=f"/staff/programmes/{programme_id}/{action}?lang={lang(request)}",
        confirm_label=tr(f"{action}_confirm"),
        cancel_url=f"/staff/programmes/{programme_id}?lang={lang(request)}",
        danger=action == "close",
    )


@router.post("/staff/programmes/{programme_id}/{action}")
async def change_status(request: Request, programme_id: str, action: str, who: StaffSession = MEDEWERKER):
    if action not in ("open", "close"):
        return _not_found(request)
    runtime = request.app.state.runtime
    to = {"open": "open", "close": "closed"}[action]

    def act(conn):
        cmd.change_programme_status(conn, runtime.outbox, programme_id, to)
        audit.record_sync(
            conn,
            runtime.outbox,
            who,
            f"programme.{'opened' if to == 'open' else 'closed'}",
            subject=("programme", programme_id),
            programme_id=programme_id,
        )

    try:
        await write(runtime, act)
    except NotFound:
        return _not_found(request)
    except Conflict:
        return RedirectResponse(f"/staff/programmes/{programme_id}?refused={action}&lang={lang(request)}", 303)
    return RedirectResponse(f"/staff/programmes/{programme_id}?done={action}&lang={lang(request)}", 303)
