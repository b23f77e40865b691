"""Dutch-first web pages for schools and companies (English with ?lang=en): register, log in,
add groups or activities, see status. The pages call the same service layer as the API."""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from services.registration import schemas as s
from services.registration import service as cmd
from services.registration.auth import Principal, resolve
from services.registration.domain.errors import Invalid, RegistrationClosed
from services.registration.domain.identifiers import SECTORS
from services.registration.errors import Conflict, Forbidden, NotFound
from services.registration.idempotency import execute
from services.registration.store import activities, groups, programmes
from services.registration.tx import read
from services.registration.web import kit
from shared.pages import lang_of

COOKIE = "gd_account"
pages = APIRouter(include_in_schema=False)


def _lang(request: Request) -> str:
    return lang_of(request)


def _t(lang: str):
    return kit.t(lang)


def _rule_text(lang: str, rule: str, **fmt) -> str:
    return kit.rule_text(lang, rule, **fmt)


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    """A school's or company's page on the shared layout (no staff navigation on these)."""
    lang = _lang(request)
    sectors = [(x, _t(lang)("sector_" + x)) for x in SECTORS]
    return kit.render(request, name, status, staff=None, sectors=sectors, form_key=str(uuid.uuid4()), **context)


def _redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?lang={_lang(request)}", 303)


async def _account(request: Request) -> Principal | None:
    principal = await resolve(request.app.state.runtime, request.cookies.get(COOKIE))
    return principal if principal and principal.kind in ("school", "company") else None


def _errors_from_validation(lang: str, exc: ValidationError) -> dict:
    out = {}
    for e in exc.errors():
        field = ".".join(str(p) for p in e["loc"])
        out.setdefault(field, _rule_text(lang, e["type"]))
    return out


def _errors_from_invalid(lang: str, exc: Invalid, **fmt) -> dict:
    out = {}
    for v in exc.violations:
        out.setdefault(v.field, _rule_text(lang, v.rule, **fmt))
    return out


def _blank_to_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in ("", None)}


async def _submit(request: Request, who_key: str, action):
    """Run a web form through the same idempotent path as the API (the form carries its key)."""
    form = await request.form()
    key = form.get("_key")
    content = json.dumps(sorted((k, str(v)) for k, v in form.multi_items())).encode()
    response = await execute(request, who_key, action, key=str(key) if key else None, content=content)
    return json.loads(response.body)


# --- pages -------------------------------------------------------------------------------


@pages.get("/")
async def home(request: Request):
    return render(request, "home.html", account=await _account(request))


@pages.get("/schools/register")
async def school_form(request: Request):
    return render(request, "school_register.html")


@pages.get("/companies/register")
async def company_form(request: Request):
    return render(request, "company_register.html")


async def _register(request: Request, kind: str):
    lang, form = _lang(request), await request.form()
    values = {k: form.get(k, "") for k in form.keys() if k != "_key"}
    values["sectors"] = form.getlist("sectors")
    template = f"{kind}_register.html"
    contact = {"name": values.get("contact_name", ""), "email": values.get("contact_email", ""), "phone": values.get("contact_phone", "")}
    try:
        if kind == "school":
            body = s.SchoolIn(
                brin=values.get("brin", ""),
                name=values.get("name", ""),
                level=values.get("level", ""),
                postcode=values.get("postcode", ""),
                municipality=values.get("municipality", ""),
                contact=contact,
            )
        else:
            body = s.CompanyIn(
                kvk=values.get("kvk", ""),
                name=values.get("name", ""),
                sectors=values["sectors"],
                postcode=values.get("postcode", ""),
                contact=contact,
            )
    except ValidationError as exc:
        errors = {k.replace("contact.", "contact_"): v for k, v in _errors_from_validation(lang, exc).items()}
        return render(request, template, 422, errors=errors, v=values)
    outbox = request.app.state.runtime.outbox

    def act(conn):
        if kind == "school":
            record, secret = cmd.register_school(conn, outbox, cmd.school_of(body))
        else:
            record, secret = cmd.register_company(conn, outbox, cmd.company_of(body))
        return 201, {"id": record["id"], "account_secret": secret}

    try:
        data = await _submit(request, "anonymous:", act)
    except Invalid as exc:
        errors = {k.replace("contact.", "contact_"): v for k, v in _errors_from_invalid(lang, exc).items()}
        return render(request, template, 422, errors=errors, v=values)
    except Conflict:
        return render(request, template, 409, v=values, notice=_t(lang)("already_registered"))
    response = render(request, "registered.html", 201, secret=data["account_secret"], next="/web")
    _log_in(request, response, data["account_secret"])
    return response


@pages.post("/schools/register")
async def school_submit(request: Request):
    return await _register(request, "school")


@pages.post("/companies/register")
async def company_submit(request: Request):
    return await _register(request, "company")


def _log_in(request: Request, response, secret: str) -> None:
    """The account cookie: never readable by scripts, never sent cross-site, and `Secure` (HTTPS
    only) whenever the pages are served over HTTPS (the request's scheme, or the configured
    public URL behind a TLS-terminating proxy)."""
    secure = request.url.scheme == "https" or request.app.state.runtime.settings.public_url("registration").startswith("https://")
    response.set_cookie(COOKIE, secret, httponly=True, samesite="strict", secure=secure, max_age=180 * 86400)


@pages.get("/login")
async def login_form(request: Request):
    return render(request, "login.html")


@pages.post("/login")
async def login(request: Request):
    secret = str((await request.form()).get("secret", "")).strip()
    principal = await resolve(request.app.state.runtime, secret)
    if principal is None or principal.kind not in ("school", "company"):
        return render(request, "login.html", 401, errors={"secret": _t(_lang(request))("login_failed")})
    response = _redirect(request, "/web")
    _log_in(request, response, secret)
    return response


@pages.post("/logout")
async def logout(request: Request):
    response = _redirect(request, "/")
    response.delete_cookie(COOKIE)
    return response


@pages.get("/web")
async def status(request: Request):
    who = await _account(request)
    if who is None:
        return _redirect(request, "/login")

    def overview(conn):
        names = {r.id: r.name for r in conn.execute(select(programmes.c.id, programmes.c.name))}
        if who.kind == "school":
            school = cmd.load_school(conn, who, who.id)
            rows = conn.execute(select(groups).where(groups.c.school_id == who.id).order_by(groups.c.created_at))
            return school, [{**cmd.group_out(r), "programme_name": names.get(r.programme_id, "")} for r in rows]
        company = cmd.load_company(conn, who, who.id)
        rows = conn.execute(select(activities).where(activities.c.company_id == who.id).order_by(activities.c.created_at))
        return company, [{**cmd.activity_out(r), "programme_name": names.get(r.programme_id, "")} for r in rows]

    record, items = await read(request.app.state.runtime, overview)
    if who.kind == "school":
        return render(request, "school_status.html", account=who, school=record, groups=items)
    return render(request, "company_status.html", account=who, company=record, activities=items)


async def _open_programmes(request: Request) -> list[tuple[str, str]]:
    def open_ones(conn):
        rows = conn.execute(select(programmes).where(programmes.c.status == "open").order_by(programmes.c.event_date))
        return [(r.id, f"{r.name} ({r.event_date.isoformat()})") for r in rows]

    return await read(request.app.state.runtime, open_ones)


@pages.get("/web/groups/new")
async def group_form(request: Request):
    who = await _account(request)
    if who is None or who.kind != "school":
        return _redirect(request, "/login")
    return render(request, "group_form.html", account=who, programmes=await _open_programmes(request))


@pages.post("/web/groups/new")
async def group_submit(request: Request):
    who = await _account(request)
    if who is None or who.kind != "school":
        return _redirect(request, "/login")
    lang, form = _lang(request), await request.form()
    values = {k: form.get(k) for k in form.keys()}
    sectors = [values.get(f"preferred_sectors.{i}") for i in range(3)]
    raw = _blank_to_none(
        {
            "programme_id": values.get("programme_id"),
            "pupil_count": values.get("pupil_count"),
            "grades": [g.strip() for g in (values.get("grades") or "").split(",") if g.strip()],
            "teacher_name": values.get("teacher_name"),
            "preferred_sectors": [x for x in sectors if x],
            "max_travel_km": values.get("max_travel_km"),
            "split": _blank_to_none(
                {
                    "may_split": bool(values.get("split.may_split")),
                    "max_parts": values.get("split.max_parts"),
                    "min_part_size": values.get("split.min_part_size"),
                }
            ),
        }
    )
    context = dict(account=who, programmes=await _open_programmes(request), v=values)
    try:
        body = s.GroupIn.model_validate(raw)
    except ValidationError as exc:
        return render(request, "group_form.html", 422, errors=_errors_from_validation(lang, exc), **context)
    outbox = request.app.state.runtime.outbox
    try:
        await _submit(request, who.key(), lambda conn: (201, cmd.register_group(conn, outbox, who, who.id, body)))
    except Invalid as exc:
        minimum = await _min_group(request, body.programme_id)
        return render(request, "group_form.html", 422, errors=_errors_from_invalid(lang, exc, min=minimum), **context)
    except RegistrationClosed as exc:
        return render(request, "group_form.html", 409, notice=f"{_t(lang)('closed')} {exc.deadline:%d-%m-%Y %H:%M}.", **context)
    return _redirect(request, "/web")


async def _min_group(request: Request, programme_id: str) -> int:
    def minimum(conn):
        return conn.execute(select(programmes.c.min_group_size).where(programmes.c.id == programme_id)).scalar() or 1

    return await read(request.app.state.runtime, minimum)


@pages.get("/web/activities/new")
async def activity_form(request: Request):
    who = await _account(request)
    if who is None or who.kind != "company":
        return _redirect(request, "/login")
    return render(request, "activity_form.html", account=who, programmes=await _open_programmes(request), v={"min_age": 10, "max_age": 15})


@pages.post("/web/activities/new")
async def activity_submit(request: Request):
    who = await _account(request)
    if who is None or who.kind != "company":
        return _redirect(request, "/login")
    lang, form = _lang(request), await request.form()
    values = {k: form.get(k) for k in form.keys()}
    values["levels"] = form.getlist("levels")
    raw = _blank_to_none(
        {
            k: values.get(k)
            for k in (
                "programme_id",
                "title",
                "description",
                "sector",
                "capacity",
                "min_age",
                "max_age",
                "starts_at",
                "ends_at",
                "postcode",
                "address",
                "accessibility_notes",
            )
        }
    )
    raw["levels"] = values["levels"]
    raw["wheelchair_accessible"] = bool(values.get("wheelchair_accessible"))
    context = dict(account=who, programmes=await _open_programmes(request), v=values)
    try:
        body = s.ActivityIn.model_validate(raw)
    except ValidationError as exc:
        return render(request, "activity_form.html", 422, errors=_errors_from_validation(lang, exc), **context)
    outbox = request.app.state.runtime.outbox
    try:
        await _submit(request, who.key(), lambda conn: (201, cmd.register_activity(conn, outbox, who, who.id, body)))
    except Invalid as exc:
        return render(request, "activity_form.html", 422, errors=_errors_from_invalid(lang, exc), **context)
    except RegistrationClosed as exc:
        return render(request, "activity_form.html", 409, notice=f"{_t(lang)('closed')} {exc.deadline:%d-%m-%Y %H:%M}.", **context)
    return _redirect(request, "/web")


async def _change(request: Request, kind: str, ident: str, fn) -> Response:
    who = await _account(request)
    if who is None or who.kind != kind:
        return _redirect(request, "/login")
    outbox = request.app.state.runtime.outbox
    try:
        await _submit(request, who.key(), lambda conn: (200, fn(conn, outbox, who, ident)))
    except (Conflict, RegistrationClosed, NotFound, Forbidden):
        pass  # the overview shows the record's real state
    return _redirect(request, "/web")


@pages.post("/web/groups/{group_id}/withdraw")
async def group_withdraw(group_id: str, request: Request):
    return await _change(request, "school", group_id, cmd.withdraw_group)


@pages.post("/web/activities/{activity_id}/cancel")
async def activity_cancel(activity_id: str, request: Request):
    return await _change(request, "company", activity_id, cmd.cancel_activity)
