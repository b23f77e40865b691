"""Who registered: the reads behind the staff lists (plain functions of a `Connection`)."""

from __future__ import annotations

from sqlalchemy import Connection, distinct, func, select

from services.registration import service as cmd
from services.registration.store import activities, companies, groups, programmes, schools

EMPTY_TOTALS = {"schools": 0, "groups": 0, "pupils": 0, "companies": 0, "activities": 0, "places": 0}


def totals(conn: Connection, programme_ids: list[str] | None = None) -> dict[str, dict]:
    """Per programme: schools and groups (registered, not withdrawn), pupils, companies, activities and their places."""
    g = select(
        groups.c.programme_id,
        func.count(distinct(groups.c.school_id)).label("schools"),
        func.count().label("groups"),
        func.coalesce(func.sum(groups.c.pupil_count), 0).label("pupils"),
    ).where(groups.c.status == "registered")
    a = select(
        activities.c.programme_id,
        func.count(distinct(activities.c.company_id)).label("companies"),
        func.count().label("activities"),
        func.coalesce(func.sum(activities.c.capacity), 0).label("places"),
    ).where(activities.c.status == "registered")
    if programme_ids is not None:
        g, a = g.where(groups.c.programme_id.in_(programme_ids)), a.where(activities.c.programme_id.in_(programme_ids))
    out: dict[str, dict] = {}
    for r in conn.execute(g.group_by(groups.c.programme_id)):
        out.setdefault(r.programme_id, dict(EMPTY_TOTALS)).update(schools=r.schools, groups=r.groups, pupils=int(r.pupils))
    for r in conn.execute(a.group_by(activities.c.programme_id)):
        out.setdefault(r.programme_id, dict(EMPTY_TOTALS)).update(companies=r.companies, activities=r.activities, places=int(r.places))
    return out


def programmes_with_totals(conn: Connection) -> tuple[list[dict], dict[str, dict]]:
    rows = [cmd.programme_out(r) for r in conn.execute(select(programmes).order_by(programmes.c.event_date.desc(), programmes.c.name))]
    return rows, totals(conn)


# --- the four lists of who registered -----------------------------------------------------------
# Each list is rows of plain values (names next to ids) and its columns: (key, message key, kind),
# the same for the page and for the .xlsx/.csv download. kind: text, int, bool, date, datetime.

COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "schools": [
        ("name", "col_school", "text"),
        ("brin", "col_brin", "text"),
        ("level", "col_level", "text"),
        ("postcode", "col_postcode", "text"),
        ("municipality", "col_municipality", "text"),
        ("province", "col_province", "text"),
        ("groups", "col_groups", "int"),
        ("pupils", "col_pupils", "int"),
        ("contact_name", "col_contact", "text"),
        ("contact_email", "col_email", "text"),
        ("contact_phone", "col_phone", "text"),
        ("registered_at", "col_registered_at", "datetime"),
        ("id", "col_school_id", "text"),
    ],
    "groups": [
        ("school", "col_school", "text"),
        ("brin", "col_brin", "text"),
        ("pupils", "col_pupils", "int"),
        ("grades", "col_grades", "text"),
        ("sectors", "col_preferences", "text"),
        ("max_travel_km", "col_max_travel_km", "int"),
        ("may_split", "col_may_split", "bool"),
        ("province", "col_province", "text"),
        ("status", "col_status", "text"),
        ("registered_at", "col_registered_at", "datetime"),
        ("id", "col_group_id", "text"),
        ("school_id", "col_school_id", "text"),
    ],
    "companies": [
        ("name", "col_company", "text"),
        ("kvk", "col_kvk", "text"),
        ("sectors", "col_sectors", "text"),
        ("postcode", "col_postcode", "text"),
        ("municipality", "col_municipality", "text"),
        ("province", "col_province", "text"),
        ("activities", "col_activities", "int"),
        ("places", "col_places", "int"),
        ("contact_name", "col_contact", "text"),
        ("contact_email", "col_email", "text"),
        ("contact_phone", "col_phone", "text"),
        ("registered_at", "col_registered_at", "datetime"),
        ("id", "col_company_id", "text"),
    ],
    "activities": [
        ("title", "col_activity", "text"),
        ("company", "col_company", "text"),
        ("sector", "col_sector", "text"),
        ("capacity", "col_capacity", "int"),
        ("levels", "col_levels", "text"),
        ("slot", "col_slot", "text"),
        ("postcode", "col_postcode", "text"),
        ("wheelchair_accessible", "col_wheelchair", "bool"),
        ("province", "col_province", "text"),
        ("status", "col_status", "text"),
        ("registered_at", "col_registered_at", "datetime"),
        ("id", "col_activity_id", "text"),
        ("company_id", "col_company_id", "text"),
    ],
}
LISTS = tuple(COLUMNS)
SEARCHED = {
    "schools": ("name", "brin", "postcode", "municipality", "contact_name", "contact_email"),
    "groups": ("school", "brin", "grades"),
    "companies": ("name", "kvk", "postcode", "municipality", "contact_name", "contact_email"),
    "activities": ("title", "company", "postcode"),
}


def rows_of(conn: Connection, kind: str, programme_id: str | None) -> list[dict]:
    """Every row of one list for a programme (schools and companies: all, with their count in it)."""
    return {"schools": _schools, "groups": _groups, "companies": _companies, "activities": _activities}[kind](conn, programme_id)


def _schools(conn: Connection, programme_id: str | None) -> list[dict]:
    counts = select(groups.c.school_id, func.count().label("n"), func.coalesce(func.sum(groups.c.pupil_count), 0).label("pupils")).where(
        groups.c.status == "registered"
    )
    if programme_id:
        counts = counts.where(groups.c.programme_id == programme_id)
    per_school = {r.school_id: (r.n, int(r.pupils)) for r in conn.execute(counts.group_by(groups.c.school_id))}
    return [
        {
            "id": r.id,
            "name": r.name,
            "brin": r.brin,
            "level": r.level,
            "postcode": r.postcode,
            "municipality": r.municipality or "",
            "province": r.province or "",
            "groups": per_school.get(r.id, (0, 0))[0],
            "pupils": per_school.get(r.id, (0, 0))[1],
            "contact_name": r.contact_name,
            "contact_email": r.contact_email,
            "contact_phone": r.contact_phone or "",
            "registered_at": r.created_at,
        }
        for r in conn.execute(select(schools))
    ]


def _companies(conn: Connection, programme_id: str | None) -> list[dict]:
    counts = select(
        activities.c.company_id, func.count().label("n"), func.coalesce(func.sum(activities.c.capacity), 0).label("places")
    ).where(activities.c.status == "registered")
    if programme_id:
        counts = counts.where(activities.c.programme_id == programme_id)
    per_company = {r.company_id: (r.n, int(r.places)) for r in conn.execute(counts.group_by(activities.c.company_id))}
    return [
        {
            "id": r.id,
            "name": r.name,
            "kvk": r.kvk,
            "sectors": ", ".join(r.sectors or []),
            "postcode": r.postcode,
            "municipality": r.municipality or "",
            "province": r.province or "",
            "activities": per_company.get(r.id, (0, 0))[0],
            "places": per_company.get(r.id, (0, 0))[1],
            "contact_name": r.contact_name,
            "contact_email": r.contact_email,
            "contact_phone": r.contact_phone or "",
            "registered_at": r.created_at,
        }
        for r in conn.execute(select(companies))
    ]


def _groups(conn: Connection, programme_id: str | None) -> list[dict]:
    query = select(groups, schools.c.name.label("school"), schools.c.brin, schools.c.province).join(
        schools, schools.c.id == groups.c.school_id
    )
    if programme_id:
        query = query.where(groups.c.programme_id == programme_id)
    out = []
    for r in conn.execute(query):
        data = r.data or {}
        out.append(
            {
                "id": r.id,
                "school_id": r.school_id,
                "school": r.school,
                "brin": r.brin,
                "pupils": r.pupil_count,
                "grades": ", ".join(data.get("grades") or []),
                "sectors": ", ".join(data.get("preferred_sectors") or []),
                "max_travel_km": data.get("max_travel_km"),
                "may_split": bool((data.get("split") or {}).get("may_split")),
                "province": r.province or "",
                "status": r.status,
                "registered_at": r.created_at,
            }
        )
    return out


def _activities(conn: Connection, programme_id: str | None) -> list[dict]:
    query = select(activities, companies.c.name.label("company"), companies.c.province).join(
        companies, companies.c.id == activities.c.company_id
    )
    if programme_id:
        query = query.where(activities.c.programme_id == programme_id)
    out = []
    for r in conn.execute(query):
        data = r.data or {}
        out.append(
            {
                "id": r.id,
                "company_id": r.company_id,
                "title": r.title,
                "company": r.company,
                "sector": data.get("sector", ""),
                "capacity": r.capacity,
                "levels": ", ".join(data.get("levels") or []),
                "slot": f"{data.get('starts_at', '')}–{data.get('ends_at', '')}",
                "postcode": data.get("postcode", ""),
                "wheelchair_accessible": bool(r.wheelchair_accessible),
                "province": r.province or "",
                "status": r.status,
                "registered_at": r.created_at,
            }
        )
    return out


def filtered(kind: str, rows: list[dict], *, q: str = "", province: str = "", status: str = "", level: str = "") -> list[dict]:
    words = q.lower().split()
    out = []
    for row in rows:
        if words:
            text = " ".join(str(row.get(k) or "") for k in SEARCHED[kind]).lower()
            if not all(w in text for w in words):
                continue
        if province and row.get("province") != province:
            continue
        if level and row.get("level") != level:
            continue
        if status == "with" and kind in ("schools", "companies") and not row.get("groups" if kind == "schools" else "activities"):
            continue
        if status == "without" and kind in ("schools", "companies") and row.get("groups" if kind == "schools" else "activities"):
            continue
        if status in ("registered", "withdrawn", "cancelled") and row.get("status") != status:
            continue
        out.append(row)
    return out


def sorted_rows(kind: str, rows: list[dict], key: str, descending: bool) -> list[dict]:
    if key not in {c[0] for c in COLUMNS[kind]}:
        key = COLUMNS[kind][0][0]

    def value(row):
        v = row.get(key)
        return (v is None, v.lower() if isinstance(v, str) else v)

    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    return sorted(present, key=value, reverse=descending) + missing
