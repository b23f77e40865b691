"""The audit log page (beheerder): every service's entries, newest first, searchable by who, what,
when and a word; names of staff looked up from the accounts (entries carry ids only)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from fastapi import APIRouter, Request
from sqlalchemy import Connection, String, cast, func, or_, select

from services.registration.store import activities, audit_log, companies, groups, programmes, schools, staff_accounts
from services.registration.tx import read
from services.registration.web import LOCAL, kit, t
from shared import staff
from shared.staff import Role, StaffSession

router = APIRouter(include_in_schema=False)
PAGE = 100


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def search(
    conn: Connection, *, q: str = "", actor: str = "", action: str = "", since: date | None = None, until: date | None = None, page: int = 0
):
    query = select(audit_log)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(
                func.lower(audit_log.c.action).like(like),
                func.lower(audit_log.c.subject_id).like(like),
                func.lower(audit_log.c.programme_id).like(like),
                func.lower(cast(audit_log.c.details, String)).like(like),
            )
        )
    if actor:
        query = (
            query.where(audit_log.c.actor_id == actor)
            if actor not in ("admin_token", "system")
            else query.where(audit_log.c.actor_kind == actor)
        )
    if action:
        query = query.where(audit_log.c.action.like(f"{action}%"))
    if since:
        query = query.where(audit_log.c.at >= datetime.combine(since, time(), LOCAL))
    if until:
        query = query.where(audit_log.c.at < datetime.combine(until + timedelta(days=1), time(), LOCAL))
    rows = list(conn.execute(query.order_by(audit_log.c.at.desc(), audit_log.c.id).limit(PAGE + 1).offset(page * PAGE)))[: PAGE + 1]
    names = {r.id: r.name for r in conn.execute(select(staff_accounts.c.id, staff_accounts.c.name))}
    actions = [r[0] for r in conn.execute(select(audit_log.c.action).distinct().order_by(audit_log.c.action))]
    return rows[:PAGE], len(rows) > PAGE, names, actions, subject_names(conn, rows[:PAGE])


SUBJECT_TABLES = {
    "programme": (programmes, programmes.c.name),
    "school": (schools, schools.c.name),
    "company": (companies, companies.c.name),
    "activity": (activities, activities.c.title),
}
SUBJECT_LINKS = {
    "programme": "/staff/programmes/{id}",
    "school": "/staff/registrations/schools/{id}",
    "company": "/staff/registrations/companies/{id}",
    "group": "/staff/registrations/groups/{id}",
    "activity": "/staff/registrations/activities/{id}",
    "staff_account": "/staff/accounts/{id}",
}


def subject_names(conn: Connection, rows) -> dict[tuple[str, str], str]:
    """Names of the records that registration owns, for the entries shown (the log itself keeps ids)."""
    wanted: dict[str, set[str]] = {}
    for r in rows:
        if r.subject_type and r.subject_id:
            wanted.setdefault(r.subject_type, set()).add(r.subject_id)
    out: dict[tuple[str, str], str] = {}
    for kind, ids in wanted.items():
        if kind in SUBJECT_TABLES:
            table, name = SUBJECT_TABLES[kind]
            out.update({(kind, r.id): r.name for r in conn.execute(select(table.c.id, name.label("name")).where(table.c.id.in_(ids)))})
        elif kind == "group":
            query = select(groups.c.id, schools.c.name).join(schools, schools.c.id == groups.c.school_id).where(groups.c.id.in_(ids))
            out.update({(kind, r.id): r.name for r in conn.execute(query)})
        elif kind == "staff_account":
            query = select(staff_accounts.c.id, staff_accounts.c.name).where(staff_accounts.c.id.in_(ids))
            out.update({(kind, r.id): r.name for r in conn.execute(query)})
    return out


def describe(row, names: dict, subjects: dict, tr) -> dict:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)  # SQLite gives naive UTC
    if row.actor_kind == "staff":
        who = names.get(row.actor_id, tr("unknown_staff"))
        role = tr("role_" + row.actor_role) if row.actor_role else ""
    else:
        who, role = tr("actor_" + row.actor_kind), ""
    action = tr("audit_" + row.action)
    details = ", ".join(f"{_word(tr, 'audit_detail_' + k, k)}: {v}" for k, v in sorted((row.details or {}).items()))
    subject_name = subjects.get((row.subject_type, row.subject_id))
    link = SUBJECT_LINKS.get(row.subject_type, "").format(id=row.subject_id) if subject_name else ""
    kind = _word(tr, "subject_" + row.subject_type, row.subject_type) if row.subject_type else ""
    return {
        "at": at.astimezone(LOCAL).strftime("%d-%m-%Y %H:%M:%S"),
        "who": who,
        "role": role,
        "action": action if action != "audit_" + row.action else row.action,
        "service": row.service,
        "subject_kind": kind,
        "subject": subject_name or (row.subject_id or ""),
        "subject_link": link,
        "details": details,
    }


def _word(tr, key: str, fallback: str) -> str:
    text = tr(key)
    return fallback if text == key else text


@router.get("/staff/audit")
async def audit_page(request: Request, who: StaffSession = staff.require(Role.beheerder)):
    p = request.query_params
    filters = {
        "q": p.get("q", "").strip(),
        "actor": p.get("actor", ""),
        "action": p.get("action", ""),
        "since": p.get("since", ""),
        "until": p.get("until", ""),
    }
    try:
        page = max(0, int(p.get("page", "0")))
    except ValueError:
        page = 0
    rows, more, names, actions, subjects = await read(
        request.app.state.runtime,
        lambda conn: search(
            conn,
            q=filters["q"],
            actor=filters["actor"],
            action=filters["action"],
            since=_day(filters["since"]),
            until=_day(filters["until"]),
            page=page,
        ),
    )
    tr = t(request)
    entries = [describe(r, names, subjects, tr) for r in rows]
    actors = [
        ("", tr("everyone")),
        *sorted(names.items(), key=lambda kv: kv[1]),
        ("admin_token", tr("actor_admin_token")),
        ("system", tr("actor_system")),
    ]
    action_options = [("", tr("every_action")), *[(a, tr("audit_" + a) if tr("audit_" + a) != "audit_" + a else a) for a in actions]]
    return kit.render(request, "staff_audit.html", entries=entries, more=more, page=page, v=filters, actors=actors, actions=action_options)
