"""Who registered: searchable, filterable, sortable lists of schools, groups, companies and
activities per programme, with the totals against the targets; each list downloads as .xlsx
and CSV (audited: they hold contact details); a detail page per school and company with its
groups or activities and its history, where a medewerker corrects the record (audited)."""

from __future__ import annotations

from datetime import UTC

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from services.registration import schemas
from services.registration import service as cmd
from services.registration.auth import Principal
from services.registration.domain.errors import Invalid
from services.registration.domain.identifiers import LEVELS, SECTORS
from services.registration.errors import Conflict, NotFound
from services.registration.staff import registrations as reg
from services.registration.staff.audit_pages import describe, subject_names
from services.registration.store import activities, audit_log, groups, programmes, staff_accounts
from services.registration.tx import read, write
from services.registration.web import LOCAL, errors_of, kit, lang, t
from shared import audit, staff
from shared.exports import Column, download
from shared.geo import PROVINCES
from shared.staff import Role, StaffSession

router = APIRouter(include_in_schema=False)
KIJKER, MEDEWERKER = staff.require(Role.kijker), staff.require(Role.medewerker)
PER_PAGE = 200


def _programme_choice(conn, wanted: str | None):
    rows = list(conn.execute(select(programmes).order_by(programmes.c.event_date.desc())))
    chosen = (
        next((r for r in rows if r.id == wanted), None)
        or next((r for r in rows if r.status == "open"), None)
        or (rows[0] if rows else None)
    )
    return rows, chosen


def _params(request: Request) -> dict:
    p = request.query_params
    kind = p.get("list", "schools")
    return {
        "list": kind if kind in reg.LISTS else "schools",
        "programme": p.get("programme", ""),
        "q": p.get("q", "").strip()[:100],
        "province": p.get("province", ""),
        "status": p.get("status", ""),
        "level": p.get("level", ""),
        "sort": p.get("sort", ""),
        "dir": "desc" if p.get("dir") == "desc" else "asc",
    }


def _table(conn, params: dict):
    all_programmes, chosen = _programme_choice(conn, params["programme"] or None)
    pid = chosen.id if chosen else None
    rows = reg.rows_of(conn, params["list"], pid)
    rows = reg.filtered(params["list"], rows, q=params["q"], province=params["province"], status=params["status"], level=params["level"])
    rows = reg.sorted_rows(params["list"], rows, params["sort"], params["dir"] == "desc")
    totals = reg.totals(conn, [pid]).get(pid, reg.EMPTY_TOTALS) if pid else reg.EMPTY_TOTALS
    return all_programmes, chosen, rows, totals


def columns_of(request: Request, kind: str) -> list[Column]:
    tr = t(request)
    return [Column(key, tr(header), kind_) for key, header, kind_ in reg.COLUMNS[kind]]


def _display(row: dict, kind: str, tr) -> dict:
    out = dict(row)
    if "level" in out and out["level"]:
        out["level_text"] = tr("level_" + out["level"])
    if "status" in out:
        out["status_text"] = tr("reg_status_" + out["status"])
    if out.get("registered_at"):
        at = out["registered_at"]
        out["registered_text"] = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(LOCAL).strftime("%d-%m-%Y")
    return out


@router.get("/staff/registrations")
async def lists(request: Request, who: StaffSession = KIJKER):
    params = _params(request)
    all_programmes, chosen, rows, totals = await read(request.app.state.runtime, lambda conn: _table(conn, params))
    tr = t(request)
    page = max(0, int(request.query_params.get("page", "0") or 0)) if request.query_params.get("page", "0").isdigit() else 0
    shown = rows[page * PER_PAGE : (page + 1) * PER_PAGE]
    status_options = {
        "schools": [("", tr("all")), ("with", tr("with_groups")), ("without", tr("without_groups"))],
        "companies": [("", tr("all")), ("with", tr("with_activities")), ("without", tr("without_activities"))],
        "groups": [("", tr("all")), ("registered", tr("reg_status_registered")), ("withdrawn", tr("reg_status_withdrawn"))],
        "activities": [("", tr("all")), ("registered", tr("reg_status_registered")), ("cancelled", tr("reg_status_cancelled"))],
    }[params["list"]]
    return kit.render(
        request,
        "staff_registrations.html",
        params=params,
        programmes=[(p.id, p.name) for p in all_programmes],
        programme=chosen,
        totals=totals,
        columns=[(key, tr(header)) for key, header, _ in reg.COLUMNS[params["list"]] if not key.endswith("id")],
        rows=[_display(r, params["list"], tr) for r in shown],
        count=len(rows),
        page=page,
        more=len(rows) > (page + 1) * PER_PAGE,
        provinces=[("", tr("every_province")), *[(p, p) for p in sorted(PROVINCES.values())]],
        levels=[("", tr("every_level")), *[(x, tr("level_" + x)) for x in LEVELS]],
        status_options=status_options,
        v=params,
    )


@router.get("/staff/registrations/download")
async def download_list(request: Request, who: StaffSession = staff.require(Role.kijker, renew=False)):
    params = _params(request)
    runtime = request.app.state.runtime
    fmt = "csv" if request.query_params.get("format") == "csv" else "xlsx"

    def table_and_audit(conn):
        _, chosen, rows, _ = _table(conn, params)
        personal = params["list"] in ("schools", "companies")
        audit.record_sync(
            conn,
            runtime.outbox,
            who,
            "export.downloaded",
            subject=("programme", chosen.id) if chosen else None,
            programme_id=chosen.id if chosen else None,
            table=params["list"],
            rows=len(rows),
            format=fmt,
            personal_data=personal,
        )
        return chosen, rows

    chosen, rows = await write(runtime, table_and_audit)
    tr = t(request)
    name = f"{tr('list_' + params['list']).lower()}-{chosen.name if chosen else 'alle'}"
    return download(rows, columns_of(request, params["list"]), name, fmt, sheet=tr("list_" + params["list"]))


# --- a school or a company: its details, its groups or activities, its history; corrections ------


def _history(conn, subject_type: str, ids: list[str]):
    rows = list(conn.execute(select(audit_log).where(audit_log.c.subject_id.in_(ids)).order_by(audit_log.c.at.desc()).limit(200)))
    names = {r.id: r.name for r in conn.execute(select(staff_accounts.c.id, staff_accounts.c.name))}
    return rows, names, subject_names(conn, rows)


def _record(conn, kind: str, record_id: str):
    admin = Principal("admin")
    if kind == "schools":
        record = cmd.school_out(cmd.load_school(conn, admin, record_id))
        items = [
            cmd.group_out(r) for r in conn.execute(select(groups).where(groups.c.school_id == record_id).order_by(groups.c.created_at))
        ]
    else:
        record = cmd.company_out(cmd.load_company(conn, admin, record_id))
        items = [
            cmd.activity_out(r)
            for r in conn.execute(select(activities).where(activities.c.company_id == record_id).order_by(activities.c.created_at))
        ]
    names = {r.id: r.name for r in conn.execute(select(programmes.c.id, programmes.c.name))}
    for item in items:
        item["programme_name"] = names.get(item["programme_id"], "")
    history = _history(conn, kind[:-1], [record_id, *[i["id"] for i in items]])
    return record, items, history


async def _detail(request: Request, kind: str, record_id: str, status: int = 200, **context):
    try:
        record, items, (history, names, subjects) = await read(request.app.state.runtime, lambda conn: _record(conn, kind, record_id))
    except NotFound:
        return kit.render(request, "message.html", 404, title=t(request)("record_not_found"), paragraphs=[])
    tr = t(request)
    v = context.pop("v", None) or _form_values(kind, record)
    return kit.render(
        request,
        "staff_record.html",
        status,
        kind=kind,
        record=record,
        items=items,
        history=[describe(r, names, subjects, tr) for r in history],
        can_write=staff.current(request).can(Role.medewerker),
        v=v,
        levels=[(x, tr("level_" + x)) for x in LEVELS],
        sectors=[(x, tr("sector_" + x)) for x in SECTORS],
        done=request.query_params.get("done"),
        **context,
    )


def _form_values(kind: str, record: dict) -> dict:
    contact = record["contact"]
    base = {
        "name": record["name"],
        "postcode": record["postcode"],
        "contact_name": contact["name"],
        "contact_email": contact["email"],
        "contact_phone": contact["phone"] or "",
    }
    if kind == "schools":
        return {**base, "brin": record["brin"], "level": record["level"], "municipality": record["municipality"] or ""}
    return {**base, "kvk": record["kvk"], "sectors": record["sectors"]}


@router.get("/staff/registrations/{kind}/{record_id}")
async def record_detail(request: Request, kind: str, record_id: str, who: StaffSession = KIJKER):
    if kind not in ("schools", "companies"):
        return await _other_detail(request, kind, record_id)
    return await _detail(request, kind, record_id)


async def _other_detail(request: Request, kind: str, record_id: str):
    """A group or an activity: its page is its school's or company's (it lists them with their history)."""
    table, owner, owner_kind = {
        "groups": (groups, groups.c.school_id, "schools"),
        "activities": (activities, activities.c.company_id, "companies"),
    }.get(kind, (None, None, None))
    if table is None:
        return kit.render(request, "message.html", 404, title=t(request)("record_not_found"), paragraphs=[])
    found = await read(request.app.state.runtime, lambda conn: conn.execute(select(owner).where(table.c.id == record_id)).scalar())
    if found is None:
        return kit.render(request, "message.html", 404, title=t(request)("record_not_found"), paragraphs=[])
    return RedirectResponse(f"/staff/registrations/{owner_kind}/{found}?lang={lang(request)}#item-{record_id}", 303)


@router.post("/staff/registrations/{kind}/{record_id}")
async def correct(request: Request, kind: str, record_id: str, who: StaffSession = MEDEWERKER):
    if kind not in ("schools", "companies"):
        return kit.render(request, "message.html", 404, title=t(request)("record_not_found"), paragraphs=[])
    runtime = request.app.state.runtime
    form = await request.form()
    values = {
        k: str(form.get(k, "")).strip()
        for k in ("name", "brin", "kvk", "level", "postcode", "municipality", "contact_name", "contact_email", "contact_phone")
    }
    values["sectors"] = form.getlist("sectors")
    contact = {"name": values["contact_name"], "email": values["contact_email"], "phone": values["contact_phone"]}
    try:
        if kind == "schools":
            body = schemas.SchoolIn(
                brin=values["brin"],
                name=values["name"],
                level=values["level"],
                postcode=values["postcode"],
                municipality=values["municipality"],
                contact=contact,
            )
        else:
            body = schemas.CompanyIn(
                kvk=values["kvk"], name=values["name"], sectors=values["sectors"], postcode=values["postcode"], contact=contact
            )
    except ValidationError as exc:
        errors = {k.replace("contact.", "contact_"): v for k, v in errors_of(request, exc).items()}
        return await _detail(request, kind, record_id, 422, errors=errors, v=values)

    def act(conn):
        if kind == "schools":
            changed = cmd.correct_school(conn, runtime.outbox, record_id, cmd.school_of(body))
        else:
            changed = cmd.correct_company(conn, runtime.outbox, record_id, cmd.company_of(body))
        if changed:
            audit.record_sync(
                conn,
                runtime.outbox,
                who,
                "record.corrected",
                subject=(kind[:-1] if kind == "schools" else "company", record_id),
                fields=" ".join(changed),
            )
        return changed

    try:
        changed = await write(runtime, act)
    except Invalid as exc:
        errors = {k.replace("contact.", "contact_"): v for k, v in errors_of(request, exc).items()}
        return await _detail(request, kind, record_id, 422, errors=errors, v=values)
    except Conflict:
        return await _detail(
            request, kind, record_id, 409, errors={"brin" if kind == "schools" else "kvk": t(request)("identifier_taken")}, v=values
        )
    except NotFound:
        return kit.render(request, "message.html", 404, title=t(request)("record_not_found"), paragraphs=[])
    return RedirectResponse(
        f"/staff/registrations/{kind}/{record_id}?done={'corrected' if changed else 'unchanged'}&lang={lang(request)}", 303
    )
