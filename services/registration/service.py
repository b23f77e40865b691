"""The service layer: load, apply the domain rules, store, add the event to the outbox.

Each function is a plain function of a SQLAlchemy `Connection` inside the caller's transaction (`tx.write`), so the change and its event
commit together. Events carry no names, e-mail addresses or phone numbers of anyone.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time
from types import SimpleNamespace

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from services.registration import idempotency, schemas
from services.registration.auth import Principal, owns
from services.registration.domain import accounts, imports
from services.registration.domain import groups as gdom
from services.registration.domain import programmes as pdom
from services.registration.domain.activities import Activity, validate_activity, validate_capacity
from services.registration.domain.errors import Invalid, raise_if_any
from services.registration.errors import Conflict, NotFound
from services.registration.store import activities, companies, erasures, groups, programmes, pupils, schools
from shared import contracts as c
from shared import geo
from shared.outbox import Outbox

LOCAL = pdom.AMSTERDAM

# Statements of the write path, built once: executing them with parameters skips building and
# cache-keying an expression per request (a third of a registration's CPU went there).
PROGRAMME_BY_ID = select(programmes).where(programmes.c.id == bindparam("id"))
SCHOOL_BY_ID = select(schools).where(schools.c.id == bindparam("id"))
COMPANY_BY_ID = select(companies).where(companies.c.id == bindparam("id"))
GROUP_BY_ID = select(groups).where(groups.c.id == bindparam("id"))
ACTIVITY_BY_ID = select(activities).where(activities.c.id == bindparam("id"))
SCHOOL_BY_BRIN = select(schools.c.id).where(schools.c.brin == bindparam("brin"))
COMPANY_BY_KVK = select(companies.c.id).where(companies.c.kvk == bindparam("kvk"))
ACTIVITY_ON_OFFER = select(activities.c.id).where(
    activities.c.id == bindparam("id"), activities.c.programme_id == bindparam("programme_id"), activities.c.status == "registered"
)

PUPILS_OF_GROUP = select(pupils.c.code, pupils.c.ref).where(pupils.c.group_id == bindparam("group_id"))
INSERT_SCHOOL, INSERT_COMPANY, INSERT_GROUP, INSERT_ACTIVITY = (
    insert(schools),
    insert(companies),
    insert(groups),
    insert(activities),
)


def now() -> datetime:
    return datetime.now(UTC)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _place(postcode: str):
    try:
        return geo.locate(postcode)
    except ValueError:
        return None


# --- programmes -------------------------------------------------------------------------------


def programme_of(row) -> pdom.Programme:
    return pdom.Programme(
        kind=row.kind,
        name=row.name,
        event_date=row.event_date,
        opens_at=_aware(row.opens_at),
        closes_at=_aware(row.closes_at),
        allocation_mode=row.allocation_mode,
        min_group_size=row.min_group_size,
        max_group_size=row.max_group_size,
        min_age=row.min_age,
        max_age=row.max_age,
        target_pupils=row.target_pupils,
        target_schools=row.target_schools,
        target_companies=row.target_companies,
        status=row.status,
        id=row.id,
    )


def programme_out(row) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "event_date": row.event_date,
        "opens_at": _aware(row.opens_at).astimezone(LOCAL),
        "closes_at": _aware(row.closes_at).astimezone(LOCAL),
        "allocation_mode": row.allocation_mode,
        "min_group_size": row.min_group_size,
        "max_group_size": row.max_group_size,
        "min_age": row.min_age,
        "max_age": row.max_age,
        "status": row.status,
        "targets": {"pupils": row.target_pupils, "schools": row.target_schools, "companies": row.target_companies},
        "revision": row.revision,
    }


def load_programme(conn: Connection, programme_id: str, *, field: str | None = None):
    row = (conn.execute(PROGRAMME_BY_ID, {"id": programme_id})).first()
    if row is None:
        if field:  # named in a body: a 422 on that field, not a 404 of the URL
            raise Invalid([gdom.Violation(field, "programme_unknown", f"programme {programme_id} does not exist")])
        raise NotFound("programme", programme_id)
    return row


def _programme_from(body: schemas.ProgrammeIn) -> pdom.Programme:
    d = pdom.defaults_for(body.kind)
    return pdom.Programme(
        kind=body.kind,
        name=body.name,
        event_date=body.event_date,
        opens_at=pdom.entered(body.opens_at),  # in UTC: SQLite would drop any other offset
        closes_at=pdom.entered(body.closes_at),
        allocation_mode=body.allocation_mode or d["allocation_mode"],
        min_group_size=body.min_group_size if body.min_group_size is not None else d["min_group_size"],
        max_group_size=body.max_group_size,
        min_age=body.min_age if body.min_age is not None else d["min_age"],
        max_age=body.max_age if body.max_age is not None else d["max_age"],
        target_pupils=body.targets.pupils,
        target_schools=body.targets.schools,
        target_companies=body.targets.companies,
    )


def _programme_values(p: pdom.Programme) -> dict:
    return dict(
        kind=p.kind,
        name=p.name,
        event_date=p.event_date,
        opens_at=p.opens_at,
        closes_at=p.closes_at,
        allocation_mode=p.allocation_mode,
        min_group_size=p.min_group_size,
        max_group_size=p.max_group_size,
        min_age=p.min_age,
        max_age=p.max_age,
        target_pupils=p.target_pupils,
        target_schools=p.target_schools,
        target_companies=p.target_companies,
    )


def create_programme(conn: Connection, body: schemas.ProgrammeIn) -> dict:
    p = _programme_from(body)
    raise_if_any(pdom.validate_programme(p))
    values = dict(id=str(uuid.uuid4()), **_programme_values(p), status="draft", revision=1, created_at=now())
    conn.execute(insert(programmes).values(**values))
    return programme_out(load_programme(conn, values["id"]))


def update_programme(conn: Connection, outbox: Outbox, programme_id: str, body: schemas.ProgrammeIn) -> dict:
    """Staff correct a draft or open programme; an open one is announced again with its new revision."""
    row = load_programme(conn, programme_id)
    if row.status == "closed":
        raise Conflict("programme_closed", "a closed programme cannot be changed", status=row.status)
    p = _programme_from(body)
    raise_if_any(pdom.validate_programme(p))
    revision = row.revision + 1
    conn.execute(update(programmes).where(programmes.c.id == programme_id).values(**_programme_values(p), revision=revision))
    if row.status == "open":
        outbox.add_sync(conn, _opened_event(programme_id, p, revision), subject=f"programme/{programme_id}")
    return programme_out(load_programme(conn, programme_id))


def _opened_event(programme_id: str, p: pdom.Programme, revision: int) -> c.ProgrammeOpened:
    return c.ProgrammeOpened(
        programme_id=programme_id,
        kind=p.kind,
        name=p.name,
        event_date=p.event_date,
        registration_opens=p.opens_at,
        registration_closes=p.closes_at,
        target_pupils=p.target_pupils,
        target_schools=p.target_schools,
        target_companies=p.target_companies,
        allocation_mode=p.allocation_mode,
        min_group_size=p.min_group_size,
        min_age=p.min_age,
        max_age=p.max_age,
        revision=revision,
    )


def change_programme_status(conn: Connection, outbox: Outbox, programme_id: str, to: str) -> dict:
    row = load_programme(conn, programme_id)
    p = programme_of(row)
    if problems := pdom.transition(p, to):
        raise Conflict(problems[0].rule, problems[0].message, current_status=p.status)
    revision = row.revision + 1
    conn.execute(update(programmes).where(programmes.c.id == programme_id).values(status=to, revision=revision))
    if to == "open":
        event = _opened_event(p.id, p, revision)
    else:
        event = c.ProgrammeClosed(programme_id=p.id, closed_at=now(), revision=revision)
    outbox.add_sync(conn, event, subject=f"programme/{p.id}")
    return programme_out(load_programme(conn, programme_id))


# --- schools and companies --------------------------------------------------------------------


def school_out(row) -> dict:
    return {
        "id": row.id,
        "brin": row.brin,
        "name": row.name,
        "level": row.level,
        "postcode": row.postcode,
        "municipality": row.municipality,
        "province": row.province,
        "contact": {"name": row.contact_name, "email": row.contact_email, "phone": row.contact_phone},
    }


def company_out(row) -> dict:
    return {
        "id": row.id,
        "kvk": row.kvk,
        "name": row.name,
        "sectors": row.sectors,
        "postcode": row.postcode,
        "municipality": row.municipality,
        "province": row.province,
        "contact": {"name": row.contact_name, "email": row.contact_email, "phone": row.contact_phone},
    }


def school_of(body: schemas.SchoolIn) -> accounts.School:
    return accounts.School(
        body.brin,
        body.name,
        body.level,
        body.postcode,
        body.municipality,
        "",
        accounts.Contact(body.contact.name, body.contact.email, body.contact.phone),
    )


def company_of(body: schemas.CompanyIn) -> accounts.Company:
    return accounts.Company(
        body.kvk, body.name, list(body.sectors), body.postcode, accounts.Contact(body.contact.name, body.contact.email, body.contact.phone)
    )


def register_school(conn: Connection, outbox: Outbox, s: accounts.School) -> tuple[dict, str]:
    raise_if_any(accounts.validate_school(s))
    existing = (conn.execute(SCHOOL_BY_BRIN, {"brin": s.brin})).scalar()
    if existing:
        raise Conflict(
            "duplicate_school",
            f"a school with BRIN {s.brin} is already registered",
            existing={"id": existing, "href": f"/api/schools/{existing}"},
        )
    return _create_school(conn, outbox, s)


def _create_school(conn: Connection, outbox: Outbox, s: accounts.School) -> tuple[dict, str]:
    place = _place(s.postcode)
    municipality = s.municipality.strip() or (place.locality if place else None)
    province = place.province if place else None
    secret, school_id, at = accounts.new_secret(), str(uuid.uuid4()), now()
    conn.execute(
        INSERT_SCHOOL,
        dict(
            id=school_id,
            brin=s.brin,
            name=s.name.strip(),
            level=s.level,
            postcode=s.postcode,
            municipality=municipality,
            province=province,
            contact_name=s.contact.name.strip(),
            contact_email=s.contact.email,
            contact_phone=s.contact.phone or None,
            secret_hash=accounts.hash_secret(secret),
            created_at=at,
        ),
    )
    outbox.add_sync(
        conn,
        c.SchoolRegistered(
            school_id=school_id,
            brin=s.brin,
            name=s.name.strip(),
            level=s.level,
            postcode=s.postcode,
            municipality=municipality,
            province=province,
            registered_at=at,
        ),
        subject=f"school/{school_id}",
    )
    return {
        "id": school_id,
        "brin": s.brin,
        "name": s.name.strip(),
        "level": s.level,
        "postcode": s.postcode,
        "municipality": municipality,
        "province": province,
        "contact": {"name": s.contact.name.strip(), "email": s.contact.email, "phone": s.contact.phone or None},
    }, secret


def register_company(conn: Connection, outbox: Outbox, co: accounts.Company) -> tuple[dict, str]:
    raise_if_any(accounts.validate_company(co))
    existing = (conn.execute(COMPANY_BY_KVK, {"kvk": co.kvk})).scalar()
    if existing:
        raise Conflict(
            "duplicate_company",
            f"a company with KvK number {co.kvk} is already registered",
            existing={"id": existing, "href": f"/api/companies/{existing}"},
        )
    return _create_company(conn, outbox, co)


def _create_company(conn: Connection, outbox: Outbox, co: accounts.Company) -> tuple[dict, str]:
    place = _place(co.postcode)
    secret, company_id, at = accounts.new_secret(), str(uuid.uuid4()), now()
    municipality, province = (place.locality, place.province) if place else (None, None)
    conn.execute(
        INSERT_COMPANY,
        dict(
            id=company_id,
            kvk=co.kvk,
            name=co.name.strip(),
            sectors=co.sectors,
            postcode=co.postcode,
            municipality=municipality,
            province=province,
            contact_name=co.contact.name.strip(),
            contact_email=co.contact.email,
            contact_phone=co.contact.phone or None,
            secret_hash=accounts.hash_secret(secret),
            created_at=at,
        ),
    )
    outbox.add_sync(
        conn,
        c.CompanyRegistered(
            company_id=company_id,
            kvk=co.kvk,
            name=co.name.strip(),
            sectors=co.sectors,
            postcode=co.postcode,
            municipality=municipality,
            province=province,
            registered_at=at,
        ),
        subject=f"company/{company_id}",
    )
    return {
        "id": company_id,
        "kvk": co.kvk,
        "name": co.name.strip(),
        "sectors": co.sectors,
        "postcode": co.postcode,
        "municipality": municipality,
        "province": province,
        "contact": {"name": co.contact.name.strip(), "email": co.contact.email, "phone": co.contact.phone or None},
    }, secret


def correct_school(conn: Connection, outbox: Outbox, school_id: str, s: accounts.School) -> list[str]:
    """Staff correct a school's details (audited by the caller); the changed fields. What the events
    carry (name, BRIN, level, postcode and place) is announced again as the school's registration."""
    raise_if_any(accounts.validate_school(s))
    row = conn.execute(SCHOOL_BY_ID, {"id": school_id}).first()
    if row is None:
        raise NotFound("school", school_id)
    other = conn.execute(SCHOOL_BY_BRIN, {"brin": s.brin}).scalar()
    if other and other != school_id:
        raise Conflict(
            "duplicate_school",
            f"a school with BRIN {s.brin} is already registered",
            existing={"id": other, "href": f"/api/schools/{other}"},
        )
    place = _place(s.postcode)
    values = dict(
        brin=s.brin,
        name=s.name.strip(),
        level=s.level,
        postcode=s.postcode,
        municipality=s.municipality.strip() or (place.locality if place else None),
        province=place.province if place else None,
        contact_name=s.contact.name.strip(),
        contact_email=s.contact.email,
        contact_phone=s.contact.phone or None,
    )
    changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
    if not changed:
        return []
    conn.execute(update(schools).where(schools.c.id == school_id).values(**values))
    if set(changed) & {"brin", "name", "level", "postcode", "municipality", "province"}:
        event = c.SchoolRegistered(
            school_id=school_id,
            brin=values["brin"],
            name=values["name"],
            level=values["level"],
            postcode=values["postcode"],
            municipality=values["municipality"],
            province=values["province"],
            registered_at=_aware(row.created_at),
        )
        outbox.add_sync(conn, event, subject=f"school/{school_id}")
    return changed


def correct_company(conn: Connection, outbox: Outbox, company_id: str, co: accounts.Company) -> list[str]:
    """Staff correct a company's details; the changed fields (see `correct_school`)."""
    raise_if_any(accounts.validate_company(co))
    row = conn.execute(COMPANY_BY_ID, {"id": company_id}).first()
    if row is None:
        raise NotFound("company", company_id)
    other = conn.execute(COMPANY_BY_KVK, {"kvk": co.kvk}).scalar()
    if other and other != company_id:
        raise Conflict(
            "duplicate_company",
            f"a company with KvK number {co.kvk} is already registered",
            existing={"id": other, "href": f"/api/companies/{other}"},
        )
    place = _place(co.postcode)
    values = dict(
        kvk=co.kvk,
        name=co.name.strip(),
        sectors=co.sectors,
        postcode=co.postcode,
        municipality=place.locality if place else None,
        province=place.province if place else None,
        contact_name=co.contact.name.strip(),
        contact_email=co.contact.email,
        contact_phone=co.contact.phone or None,
    )
    changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
    if not changed:
        return []
    conn.execute(update(companies).where(companies.c.id == company_id).values(**values))
    if set(changed) & {"kvk", "name", "sectors", "postcode", "municipality", "province"}:
        event = c.CompanyRegistered(
            company_id=company_id,
            kvk=values["kvk"],
            name=values["name"],
            sectors=values["sectors"],
            postcode=values["postcode"],
            municipality=values["municipality"],
            province=values["province"],
            registered_at=_aware(row.created_at),
        )
        outbox.add_sync(conn, event, subject=f"company/{company_id}")
    return changed


def load_school(conn: Connection, principal: Principal, school_id: str):
    row = (conn.execute(SCHOOL_BY_ID, {"id": school_id})).first()
    if row is None:
        raise NotFound("school", school_id)
    owns(principal, "school", school_id)
    return row


def load_company(conn: Connection, principal: Principal, company_id: str):
    row = (conn.execute(COMPANY_BY_ID, {"id": company_id})).first()
    if row is None:
        raise NotFound("company", company_id)
    owns(principal, "company", company_id)
    return row


# --- groups -------------------------------------------------------------------------------


def _group_domain(body: schemas.GroupFields) -> gdom.Group:
    return gdom.Group(
        pupil_count=body.pupil_count,
        grades=list(body.grades),
        ages=list(body.ages),
        teacher_name=body.teacher_name,
        preferred_sectors=list(body.preferred_sectors),
        preferred_activities=list(body.preferred_activities),
        max_travel_km=body.max_travel_km,
        split=gdom.Split(body.split.may_split, body.split.max_parts, body.split.min_part_size),
        pupils=[gdom.PupilEntry(p.pupil_ref, p.age, p.parental_consent, list(p.ranking)) for p in body.pupils],
    )


def _group_data(g: gdom.Group) -> dict:
    return {
        "pupil_count": g.pupil_count,
        "grades": g.grades,
        "ages": g.ages,
        "teacher_name": g.teacher_name,
        "preferred_sectors": g.preferred_sectors,
        "preferred_activities": g.preferred_activities,
        "max_travel_km": g.max_travel_km,
        "split": {"may_split": g.split.may_split, "max_parts": g.split.max_parts, "min_part_size": g.split.min_part_size},
        "pupils": [
            {"pupil_ref": p.pupil_ref, "age": p.age, "parental_consent": p.parental_consent, "ranking": p.ranking} for p in g.pupils
        ],
    }


def group_out(row) -> dict:
    return {
        **row.data,
        "id": row.id,
        "school_id": row.school_id,
        "programme_id": row.programme_id,
        "status": row.status,
        "revision": row.revision,
    }


def _group_event(cls, row_id: str, school_id: str, programme_id: str, data: dict, revision: int, at: datetime, refs: dict[str, str]):
    """The group's event; `refs` maps each pupil's code to her pseudonym, which is all it names."""
    split = data["split"]
    return cls(
        group_id=row_id,
        school_id=school_id,
        programme_id=programme_id,
        pupil_count=data["pupil_count"],
        grades=data["grades"],
        ages=data["ages"],
        preferred_sectors=data["preferred_sectors"],
        preferred_activities=data["preferred_activities"],
        max_travel_km=data["max_travel_km"],
        split=c.SplitRules(may_split=split["may_split"], max_parts=split["max_parts"], min_part_size=split["min_part_size"] or 1),
        pupils=[c.PupilRef(**(p | {"pupil_ref": refs[p["pupil_ref"]]})) for p in data["pupils"]],
        revision=revision,
        registered_at=at,
    )


def _pseudonyms(conn: Connection, outbox: Outbox, group, data: dict, revision: int) -> dict[str, str]:
    """Each pupil's pseudonym (code -> ref): kept for the pupils the group had, drawn at random for
    new ones. A pupil no longer listed is erased. When the codes change, a PupilsNamed event (the
    only one carrying codes) goes out first, on the group's own subject."""
    known = {row.code: row.ref for row in conn.execute(PUPILS_OF_GROUP, {"group_id": group.id})}
    codes = [p["pupil_ref"] for p in data["pupils"]]
    refs = {code: known.get(code) or secrets.token_urlsafe(16) for code in codes}
    added = [{"group_id": group.id, "ref": refs[code], "code": code} for code in codes if code not in known]
    removed = {code: ref for code, ref in known.items() if code not in refs}
    if added:
        conn.execute(insert(pupils), added)
    for code, ref in removed.items():
        _erase(conn, outbox, group, code, ref)
    if added or removed:
        named = c.PupilsNamed(
            group_id=group.id,
            school_id=group.school_id,
            programme_id=group.programme_id,
            codes={ref: code for code, ref in refs.items()},
            revision=revision,
        )
        outbox.add_sync(conn, named, subject=f"group/{group.id}")
    return refs


def _erase(conn: Connection, outbox: Outbox, group, code: str, ref: str) -> None:
    """Erase one pupil: her pseudonym goes, every service is told, the stored idempotent answers
    forget her code, and the purge job (erasure.py) removes her group's older PupilsNamed events
    from the streams."""
    conn.execute(delete(pupils).where(pupils.c.group_id == group.id, pupils.c.ref == ref))
    conn.execute(insert(erasures), {"programme_id": group.programme_id, "group_id": group.id, "ref": ref, "erased_at": now()})
    idempotency.forget_pupil(conn, group.id, code)
    outbox.add_sync(conn, c.PupilErased(pupil_ref=ref, group_id=group.id, programme_id=group.programme_id), subject=f"group/{group.id}")


def _activities_in(conn: Connection, programme_id: str, g: gdom.Group) -> set[str]:
    """Which of the activities the group names are on offer in the programme (a lookup by key each:
    a handful per group, and each is cheaper than one IN query)."""
    named = set(g.preferred_activities) | {a for p in g.pupils for a in p.ranking}
    return {a for a in sorted(named) if (conn.execute(ACTIVITY_ON_OFFER, {"id": a, "programme_id": programme_id})).first()}


def _checked_group(conn: Connection, programme_row, body: schemas.GroupFields) -> gdom.Group:
    p = programme_of(programme_row)
    g = _group_domain(body)
    raise_if_any(gdom.validate_group(p, g, _activities_in(conn, p.id, g)))
    return gdom.normalise(g)


def _own_school(conn: Connection, principal: Principal, school_id: str) -> None:
    """The school itself was found by its secret already; anyone else needs the lookup (404/403)."""
    if not (principal.kind == "school" and principal.id == school_id):
        load_school(conn, principal, school_id)


def _own_company(conn: Connection, principal: Principal, company_id: str) -> None:
    if not (principal.kind == "company" and principal.id == company_id):
        load_company(conn, principal, company_id)


def register_group(conn: Connection, outbox: Outbox, principal: Principal, school_id: str, body: schemas.GroupIn) -> dict:
    _own_school(conn, principal, school_id)
    programme = load_programme(conn, body.programme_id, field="programme_id")
    pdom.check_window(programme_of(programme), now())
    g = _checked_group(conn, programme, body)
    group_id, at, data = str(uuid.uuid4()), now(), _group_data(g)
    group = SimpleNamespace(id=group_id, school_id=school_id, programme_id=programme.id)
    conn.execute(
        INSERT_GROUP,
        dict(
            id=group_id,
            school_id=school_id,
            programme_id=programme.id,
            status="registered",
            revision=1,
            pupil_count=g.pupil_count,
            data=data,
            created_at=at,
            updated_at=at,
        ),
    )
    refs = _pseudonyms(conn, outbox, group, data, 1)
    event = _group_event(c.GroupRegistered, group_id, school_id, programme.id, data, 1, at, refs)
    outbox.add_sync(conn, event, subject=f"group/{group_id}")
    return {**data, "id": group_id, "school_id": school_id, "programme_id": programme.id, "status": "registered", "revision": 1}


def load_group(conn: Connection, principal: Principal, group_id: str):
    row = (conn.execute(GROUP_BY_ID, {"id": group_id})).first()
    if row is None:
        raise NotFound("group", group_id)
    owns(principal, "school", row.school_id)
    return row


def _store_group(conn, outbox, row, data: dict, *, event=c.GroupUpdated) -> dict:
    revision, at = row.revision + 1, now()
    conn.execute(
        update(groups).where(groups.c.id == row.id).values(data=data, pupil_count=data["pupil_count"], revision=revision, updated_at=at)
    )
    refs = _pseudonyms(conn, outbox, row, data, revision)
    outbox.add_sync(conn, _group_event(event, row.id, row.school_id, row.programme_id, data, revision, at, refs), subject=f"group/{row.id}")
    return group_out((conn.execute(select(groups).where(groups.c.id == row.id))).one())


def _open_group(conn, principal, group_id):
    row = load_group(conn, principal, group_id)
    if row.status != "registered":
        raise Conflict("group_withdrawn", "this group was withdrawn and can no longer change")
    programme = load_programme(conn, row.programme_id)
    pdom.check_window(programme_of(programme), now())
    return row, programme


def update_group(conn: Connection, outbox: Outbox, principal: Principal, group_id: str, body: schemas.GroupFields) -> dict:
    row, programme = _open_group(conn, principal, group_id)
    g = _checked_group(conn, programme, body)
    return _store_group(conn, outbox, row, _group_data(g))


def patch_group(conn: Connection, outbox: Outbox, principal: Principal, group_id: str, patch: schemas.GroupPatch) -> dict:
    """Only what the patch names changes; the result must meet every rule a whole group meets."""
    row, programme = _open_group(conn, principal, group_id)
    changes = patch.model_dump(exclude_unset=True)
    stored = {k: v for k, v in row.data.items() if k in schemas.GroupFields.model_fields}
    if changes.get("split", {}).get("may_split") is False:
        stored["split"] = {}  # "may not be split" ends the stored parts and part size, unless the patch names them
    body = schemas.validated(schemas.GroupFields, schemas.merge_patch(stored, changes))
    return _store_group(conn, outbox, row, _group_data(_checked_group(conn, programme, body)))


def rank_activities(conn: Connection, outbox: Outbox, principal: Principal, group_id: str, body: schemas.RankingsIn) -> dict:
    row, programme = _open_group(conn, principal, group_id)
    data = dict(row.data)
    refs = {p["pupil_ref"] for p in data["pupils"]}
    unknown = [ref for ref in body.rankings if ref not in refs]
    if unknown:
        raise Invalid([gdom.Violation(f"rankings.{ref}", "pupil_ref_unknown", f"no pupil {ref} in this group") for ref in unknown])
    data["pupils"] = [{**p, "ranking": body.rankings.get(p["pupil_ref"], p["ranking"])} for p in data["pupils"]]
    fields = schemas.GroupUpdate.model_validate(data)
    g = _group_domain(fields)
    violations = gdom.validate_group(programme_of(programme), g, _activities_in(conn, programme.id, g))
    if violations:
        by_ref = {i: p["pupil_ref"] for i, p in enumerate(data["pupils"])}

        def as_sent(v):  # name the field as the caller sent it: rankings.<ref>.<n>
            if v.field.startswith("pupils.") and ".ranking" in v.field:
                _, i, _, *rest = v.field.split(".")
                return replace(v, field=".".join(["rankings", by_ref[int(i)], *rest]))
            return v

        raise Invalid([as_sent(v) for v in violations])
    return _store_group(conn, outbox, row, _group_data(gdom.normalise(g)))


def withdraw_group(conn: Connection, outbox: Outbox, principal: Principal, group_id: str) -> dict:
    row, _ = _open_group(conn, principal, group_id)
    revision = row.revision + 1
    conn.execute(update(groups).where(groups.c.id == row.id).values(status="withdrawn", revision=revision, updated_at=now()))
    outbox.add_sync(
        conn,
        c.GroupWithdrawn(group_id=row.id, school_id=row.school_id, programme_id=row.programme_id, revision=revision),
        subject=f"group/{row.id}",
    )
    return group_out((conn.execute(select(groups).where(groups.c.id == row.id))).one())


def erase_pupil(conn: Connection, outbox: Outbox, principal: Principal, group_id: str, pupil_ref: str) -> dict:
    """Erasure is a right, not a registration: it works after the deadline too."""
    row = load_group(conn, principal, group_id)
    data = dict(row.data)
    kept = [p for p in data["pupils"] if p["pupil_ref"] != pupil_ref]
    if len(kept) == len(data["pupils"]):
        raise NotFound("pupil", pupil_ref)
    data["pupils"] = kept
    return _store_group(conn, outbox, row, data)  # she is no longer listed: erased (_pseudonyms)


# --- activities ---------------------------------------------------------------------------


def _activity_domain(body: schemas.ActivityFields) -> Activity:
    return Activity(
        title=body.title,
        sector=body.sector,
        capacity=body.capacity,
        levels=list(body.levels),
        min_age=body.min_age,
        max_age=body.max_age,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        postcode=body.postcode,
        description=body.description,
        address=body.address,
        wheelchair_accessible=body.wheelchair_accessible,
        accessibility_notes=body.accessibility_notes,
        format=body.format,
        audience=list(body.audience),
    )


def _activity_data(a: Activity) -> dict:
    return {
        "title": a.title.strip(),
        "description": a.description,
        "sector": a.sector,
        "capacity": a.capacity,
        "levels": a.levels,
        "min_age": a.min_age,
        "max_age": a.max_age,
        "starts_at": a.starts_at.isoformat(timespec="minutes"),
        "ends_at": a.ends_at.isoformat(timespec="minutes"),
        "postcode": a.postcode,
        "address": a.address,
        "wheelchair_accessible": a.wheelchair_accessible,
        "accessibility_notes": a.accessibility_notes,
        "format": a.format,
        "audience": a.audience,
    }


def activity_out(row) -> dict:
    return {
        **row.data,
        "capacity": row.capacity,
        "id": row.id,
        "company_id": row.company_id,
        "programme_id": row.programme_id,
        "status": row.status,
        "revision": row.revision,
    }


def _slot(day: date, t: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(t), tzinfo=LOCAL)


def _activity_event(cls, row_id, company_id, programme, data: dict, capacity: int, revision: int, at: datetime):
    place = _place(data["postcode"])
    return cls(
        activity_id=row_id,
        company_id=company_id,
        programme_id=programme.id,
        title=data["title"],
        sector=data["sector"],
        capacity=capacity,
        levels=data["levels"],
        min_age=data["min_age"],
        max_age=data["max_age"],
        slot_start=_slot(programme.event_date, data["starts_at"]),
        slot_end=_slot(programme.event_date, data["ends_at"]),
        postcode=data["postcode"],
        province=place.province if place else None,
        format=data.get("format", "visit"),
        audience=data.get("audience", []),
        revision=revision,
        registered_at=at,
    )


def register_activity(conn: Connection, outbox: Outbox, principal: Principal, company_id: str, body: schemas.ActivityIn) -> dict:
    _own_company(conn, principal, company_id)
    programme = load_programme(conn, body.programme_id, field="programme_id")
    pdom.check_window(programme_of(programme), now())
    a = _activity_domain(body)
    raise_if_any(validate_activity(programme_of(programme), a))
    activity_id, at, data = str(uuid.uuid4()), now(), _activity_data(a)
    conn.execute(
        INSERT_ACTIVITY,
        dict(
            id=activity_id,
            company_id=company_id,
            programme_id=programme.id,
            status="registered",
            revision=1,
            title=data["title"],
            capacity=a.capacity,
            wheelchair_accessible=a.wheelchair_accessible,
            data=data,
            created_at=at,
            updated_at=at,
        ),
    )
    outbox.add_sync(
        conn,
        _activity_event(c.ActivityRegistered, activity_id, company_id, programme, data, a.capacity, 1, at),
        subject=f"activity/{activity_id}",
    )
    return {
        **data,
        "capacity": a.capacity,
        "id": activity_id,
        "company_id": company_id,
        "programme_id": programme.id,
        "status": "registered",
        "revision": 1,
    }


def load_activity(conn: Connection, principal: Principal, activity_id: str):
    row = (conn.execute(ACTIVITY_BY_ID, {"id": activity_id})).first()
    if row is None:
        raise NotFound("activity", activity_id)
    owns(principal, "company", row.company_id)
    return row


def _live_activity(conn, principal, activity_id, *, window: bool):
    row = load_activity(conn, principal, activity_id)
    if row.status != "registered":
        raise Conflict("activity_cancelled", "this activity was cancelled and can no longer change")
    programme = load_programme(conn, row.programme_id)
    p = programme_of(programme)
    if window:
        pdom.check_window(p, now())
    elif now().astimezone(LOCAL).date() > p.event_date:
        raise Conflict("event_passed", f"the event of {p.event_date.isoformat()} has passed", event_date=p.event_date.isoformat())
    return row, programme


def _store_activity(conn, outbox, row, programme, data: dict, capacity: int) -> dict:
    revision, at = row.revision + 1, now()
    conn.execute(
        update(activities)
        .where(activities.c.id == row.id)
        .values(
            data=data,
            title=data["title"],
            capacity=capacity,
            wheelchair_accessible=data["wheelchair_accessible"],
            revision=revision,
            updated_at=at,
        )
    )
    outbox.add_sync(
        conn,
        _activity_event(c.ActivityUpdated, row.id, row.company_id, programme, data, capacity, revision, at),
        subject=f"activity/{row.id}",
    )
    return activity_out((conn.execute(select(activities).where(activities.c.id == row.id))).one())


def update_activity(conn: Connection, outbox: Outbox, principal: Principal, activity_id: str, body: schemas.ActivityFields) -> dict:
    row, programme = _live_activity(conn, principal, activity_id, window=True)
    a = _activity_domain(body)
    raise_if_any(validate_activity(programme_of(programme), a))
    return _store_activity(conn, outbox, row, programme, _activity_data(a), a.capacity)


def patch_activity(conn: Connection, outbox: Outbox, principal: Principal, activity_id: str, patch: schemas.ActivityPatch) -> dict:
    """Only what the patch names changes. A patch of the capacity alone follows the capacity rule
    (until the event day); any other change needs the registration window."""
    changes = patch.model_dump(exclude_unset=True)
    row, programme = _live_activity(conn, principal, activity_id, window=set(changes) != {"capacity"})
    stored = {k: v for k, v in {**row.data, "capacity": row.capacity}.items() if k in schemas.ActivityFields.model_fields}
    a = _activity_domain(schemas.validated(schemas.ActivityFields, schemas.merge_patch(stored, changes)))
    raise_if_any(validate_activity(programme_of(programme), a))
    return _store_activity(conn, outbox, row, programme, _activity_data(a), a.capacity)


def change_capacity(conn: Connection, outbox: Outbox, principal: Principal, activity_id: str, capacity: int) -> dict:
    """Capacity may change until the event day (companies learn late how many guides they have)."""
    row, programme = _live_activity(conn, principal, activity_id, window=False)
    raise_if_any(validate_capacity(capacity))
    return _store_activity(conn, outbox, row, programme, dict(row.data), capacity)


def cancel_activity(conn: Connection, outbox: Outbox, principal: Principal, activity_id: str) -> dict:
    row, programme = _live_activity(conn, principal, activity_id, window=False)
    revision = row.revision + 1
    conn.execute(update(activities).where(activities.c.id == row.id).values(status="cancelled", revision=revision, updated_at=now()))
    outbox.add_sync(
        conn,
        c.ActivityCancelled(activity_id=row.id, company_id=row.company_id, programme_id=row.programme_id, revision=revision),
        subject=f"activity/{row.id}",
    )
    return activity_out((conn.execute(select(activities).where(activities.c.id == row.id))).one())


def list_activities(conn: Connection, principal: Principal, company_id: str) -> list[dict]:
    load_company(conn, principal, company_id)
    rows = conn.execute(select(activities).where(activities.c.company_id == company_id).order_by(activities.c.created_at))
    return [activity_out(r) for r in rows]


# --- bulk import --------------------------------------------------------------------------


def _same_school(row, s: accounts.School) -> bool:
    return (row.name, row.level, row.postcode, row.contact_email) == (s.name.strip(), s.level, s.postcode, s.contact.email)


def _same_company(row, co: accounts.Company) -> bool:
    return (row.name, list(row.sectors), row.postcode, row.contact_email) == (co.name.strip(), co.sectors, co.postcode, co.contact.email)


def import_csv(conn: Connection, outbox: Outbox, kind: str, text: str) -> dict:
    """Create what is new, leave what is already there: importing the same file twice changes nothing."""
    return import_parsed(conn, outbox, imports.parse(kind, text))


def import_parsed(conn: Connection, outbox: Outbox | None, parsed: imports.Parsed, *, dry_run: bool = False) -> dict:
    """The verdict per row (created, unchanged, conflict, rejected); with `dry_run` nothing is stored
    (the staff preview: `created` then means "would be created")."""
    kind = parsed.kind
    table, key_col, same = (schools, schools.c.brin, _same_school) if kind == "school" else (companies, companies.c.kvk, _same_company)
    keys = [r.key for r in parsed.rows if r.status == "valid"]
    existing = {getattr(r, key_col.name): r for r in (conn.execute(select(table).where(key_col.in_(keys)))).all()} if keys else {}
    rows, counts = [], {"created": 0, "unchanged": 0, "conflict": 0, "rejected": 0}
    for r in parsed.rows:
        out = {"line": r.line, "key": r.key, "errors": [{"type": v.rule, "field": v.field, "msg": v.message} for v in r.violations]}
        if r.record is not None:
            out["name"] = r.record.name
        if r.status == "rejected":
            out["status"] = "rejected"
        elif (found := existing.get(r.key)) is not None:
            out.update(id=found.id, status="unchanged" if same(found, r.record) else "conflict")
            if out["status"] == "conflict":
                out["errors"] = [
                    {
                        "type": "differs_from_existing",
                        "field": key_col.name,
                        "msg": f"already registered with other details: /api/{table.name}/{found.id}",
                    }
                ]
        elif dry_run:
            out["status"] = "created"
        else:
            created, secret = (_create_school if kind == "school" else _create_company)(conn, outbox, r.record)
            out.update(id=created["id"], status="created", account_secret=secret)
        counts[out["status"]] += 1
        rows.append(out)
    return {
        "kind": kind,
        **counts,
        "rows": rows,
        "file_errors": [{"type": v.rule, "field": v.field, "msg": v.message} for v in parsed.file_errors],
    }
