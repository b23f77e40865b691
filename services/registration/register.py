"""The ESF+ participant register of energy-transition programmes: the service layer.

Plain functions of a `Connection` (run by `tx.write` / `tx.read`), like service.py. The register
is apart from pupils' data (its own tables, see store.py), its person numbers are sealed
(vault.py), and its events carry a pseudonymous id and what allocation and reporting need only.
Who may see what:
- staff (admin) see every participant of a programme; person numbers only when a beheerder asks
  for them (`reveal`), and the caller audits that;
- a partner employer (a company) registers her own employees and team leaders and sees only them,
  never a person number;
- anyone may register herself while the programme is open, and learns no more than that it worked.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import Connection, delete, insert, select, update

from services.registration import schemas as s
from services.registration.auth import Principal
from services.registration.domain import identifiers as ids
from services.registration.domain import participants as pdom
from services.registration.domain import programmes as progdom
from services.registration.domain.errors import Violation, raise_if_any
from services.registration.errors import Conflict, Forbidden, NotFound
from services.registration.service import load_programme, programme_of
from services.registration.store import activities, participants, participations, programme_registers, retention_reports
from services.registration.vault import Vault
from shared import contracts as c
from shared.outbox import Outbox

PERIOD = re.compile(r"^(\d{4})(-(H[12]|Q[1-4]))?$")
CONSENT_REQUIRED = ("register",)  # keeping her in the ESF+ register is what taking part means


def now() -> datetime:
    return datetime.now(UTC)


def _programme(conn: Connection, programme_id: str):
    row = load_programme(conn, programme_id)
    if row.kind != "energy_transition":
        raise Conflict("not_energy_transition", "only energy-transition programmes keep a participant register", kind=row.kind)
    return row


def _domain(programme_id: str, body: s.ParticipantIn) -> pdom.Participant:
    return pdom.Participant(
        programme_id=programme_id, name=body.name.strip(), gender=body.gender, target_group=body.target_group, isced=body.isced,
        labour_status=body.labour_status, bsn=body.bsn or None, onderwijsnummer=body.onderwijsnummer or None,
        birth_date=body.birth_date, age_band=body.age_band, activities=list(body.ranking),
    )  # fmt: skip


def _contact(body: s.ParticipantIn) -> tuple[dict, list[Violation]]:
    out: list[Violation] = []
    contact = {"email": ids.check("email", ids.email, body.email, out), "phone": None, "postcode": None}
    if body.phone:
        contact["phone"] = ids.check("phone", ids.phone, body.phone, out)
    if body.postcode:
        contact["postcode"] = ids.check("postcode", ids.postcode, body.postcode, out)
    for purpose in CONSENT_REQUIRED:
        if not body.consents.get(purpose):
            out.append(Violation(f"consents.{purpose}", "consent_required", "taking part means being kept in the ESF+ register"))
    return contact, out


def _ranking_on_offer(conn: Connection, programme_id: str, ranking: list[str]) -> list[Violation]:
    if not ranking:
        return []
    offered = set(
        conn.execute(
            select(activities.c.id).where(
                activities.c.programme_id == programme_id, activities.c.status == "registered", activities.c.id.in_(ranking)
            )
        ).scalars()
    )
    return [Violation(f"ranking.{i}", "activity_unknown", f"activity {a} is not on offer in this programme")
            for i, a in enumerate(ranking) if a not in offered]  # fmt: skip


def register_participant(conn: Connection, outbox: Outbox, vault: Vault, principal: Principal, programme_id: str,
                         body: s.ParticipantIn, today: date) -> tuple[int, dict]:  # fmt: skip
    """201 for a new participant, 200 when her person number was registered before (one record:
    the newer details, the earliest first and latest last activity date)."""
    programme = _programme(conn, programme_id)
    if not principal.is_admin:
        progdom.check_window(programme_of(programme), now())
    if principal.kind not in ("admin", "company", "anonymous"):
        raise Forbidden()
    p = _domain(programme_id, body)
    contact, violations = _contact(body)
    violations += pdom.validate_participant(p, today) + _ranking_on_offer(conn, programme_id, list(body.ranking))
    raise_if_any(violations)
    kind, number = pdom.person_number(p)
    index = vault.index(kind, number)
    employer = principal.id if principal.kind == "company" else None
    found = conn.execute(
        select(participants).where(participants.c.programme_id == programme_id, participants.c.person_index == index)
    ).first()
    at = now()
    consents = {purpose: at.isoformat() for purpose, given in body.consents.items() if given}
    if found is not None:
        if employer and found.employer_id not in (None, employer):
            raise Conflict("registered_by_another_employer", "this participant was registered by another partner employer")
        merged = pdom.merge(_stored(found), p)
        revision = found.revision + 1
        conn.execute(update(participants).where(participants.c.id == found.id).values(
            **_columns(merged, contact), employer_id=found.employer_id or employer, consents={**found.consents, **consents},
            ranking=list(body.ranking) or found.ranking, revision=revision, updated_at=at,
        ))  # fmt: skip
        participant_id, status, event = found.id, 200, c.ParticipantUpdated
    else:
        participant_id, revision, status, event = str(uuid.uuid4()), 1, 201, c.ParticipantRegistered
        conn.execute(insert(participants).values(
            id=participant_id, programme_id=programme_id, person_kind=kind, person_index=index,
            person_sealed=vault.seal(number, participant_id), **_columns(p, contact), employer_id=employer, consents=consents,
            ranking=list(body.ranking), revision=1, created_at=at, updated_at=at,
        ))  # fmt: skip
    row = conn.execute(select(participants).where(participants.c.id == participant_id)).one()
    outbox.add_sync(conn, event(
        participant_id=participant_id, programme_id=programme_id, target_group=row.target_group, employer_id=row.employer_id,
        ranking=list(row.ranking), postcode_area=row.postcode[:4] if row.postcode else None, revision=revision,
    ), subject=f"participant/{participant_id}")  # fmt: skip
    _indicators_changed(conn, outbox, programme_id)
    if principal.kind == "anonymous":
        return status, {"id": participant_id, "status": "registered"}
    return status, participant_out(row)


def _columns(p: pdom.Participant, contact: dict) -> dict:
    return dict(name=p.name, email=contact["email"], phone=contact["phone"], postcode=contact["postcode"], birth_date=p.birth_date,
                gender=p.gender, age_band=p.age_band, isced=p.isced, labour_status=p.labour_status, target_group=p.target_group,
                first_activity=p.first_activity, last_activity=p.last_activity)  # fmt: skip


def _stored(row) -> pdom.Participant:
    done = []  # activities are the participations table's; merge keeps the dates
    return pdom.Participant(
        programme_id=row.programme_id, name=row.name, gender=row.gender, target_group=row.target_group, isced=row.isced,
        labour_status=row.labour_status, birth_date=row.birth_date, age_band=row.age_band, first_activity=row.first_activity,
        last_activity=row.last_activity, activities=done,
    )  # fmt: skip


def participant_out(row, person_number: str | None = None) -> dict:
    out = {
        "id": row.id, "programme_id": row.programme_id, "name": row.name, "email": row.email, "phone": row.phone,
        "postcode": row.postcode, "birth_date": row.birth_date, "gender": row.gender, "age_band": row.age_band, "isced": row.isced,
        "labour_status": row.labour_status, "target_group": row.target_group, "employer_id": row.employer_id,
        "consents": row.consents, "ranking": row.ranking, "first_activity": row.first_activity, "last_activity": row.last_activity,
        "person_kind": row.person_kind, "revision": row.revision,
    }  # fmt: skip
    if person_number is not None:
        out["person_number"] = person_number
    return out


def _visible(conn: Connection, principal: Principal, programme_id: str):
    query = select(participants).where(participants.c.programme_id == programme_id).order_by(participants.c.name, participants.c.id)
    if principal.is_admin:
        return query
    if principal.kind == "company":
        return query.where(participants.c.employer_id == principal.id)
    raise Forbidden()


def list_participants(conn: Connection, vault: Vault, principal: Principal, programme_id: str, *, reveal: bool = False) -> list[dict]:
    """`reveal` (person numbers) is for staff only; the route decides who is a beheerder and audits."""
    _programme(conn, programme_id)
    if reveal and not principal.is_admin:
        raise Forbidden()
    rows = conn.execute(_visible(conn, principal, programme_id)).all()
    return [participant_out(r, vault.open(r.person_sealed, r.id) if reveal else None) for r in rows]


def load_participant(conn: Connection, principal: Principal, participant_id: str):
    row = conn.execute(select(participants).where(participants.c.id == participant_id)).first()
    if row is None:
        raise NotFound("participant", participant_id)
    if not (principal.is_admin or (principal.kind == "company" and principal.id == row.employer_id)):
        raise Forbidden()
    return row


def erase_participant(conn: Connection, outbox: Outbox, principal: Principal, participant_id: str, reason: str = "request") -> dict:
    """Her data leave the register at once (participations go with her); reporting keeps counts."""
    row = load_participant(conn, principal, participant_id)
    conn.execute(delete(participations).where(participations.c.participant_id == row.id))
    conn.execute(delete(participants).where(participants.c.id == row.id))
    outbox.add_sync(conn, c.ParticipantErased(participant_id=row.id, programme_id=row.programme_id, reason=reason),
                    subject=f"participant/{row.id}")  # fmt: skip
    _indicators_changed(conn, outbox, row.programme_id)
    return {"id": row.id, "erased": True}


def record_attendance(conn: Connection, outbox: Outbox, principal: Principal, activity_id: str, body: s.AttendanceIn) -> dict:
    """Staff or the activity's company record who came on a day; attendance moves the participants'
    first and last activity dates."""
    activity = conn.execute(select(activities).where(activities.c.id == activity_id)).first()
    if activity is None:
        raise NotFound("activity", activity_id)
    if not (principal.is_admin or (principal.kind == "company" and principal.id == activity.company_id)):
        raise Forbidden()
    _programme(conn, activity.programme_id)
    marks = [(pid, True) for pid in body.attended] + [(pid, False) for pid in body.absent]
    known = {
        r.id: r
        for r in conn.execute(
            select(participants).where(participants.c.programme_id == activity.programme_id, participants.c.id.in_([m[0] for m in marks]))
        )
    }
    unknown = [Violation(f"{'attended' if ok else 'absent'}.{i}", "participant_unknown", f"no participant {pid} in this programme")
               for i, (pid, ok) in enumerate(marks) if pid not in known]  # fmt: skip
    raise_if_any(unknown)
    at = now()
    for pid, attended in marks:
        conn.execute(delete(participations).where(participations.c.participant_id == pid, participations.c.activity_id == activity_id))
        conn.execute(insert(participations).values(participant_id=pid, activity_id=activity_id, status="attended" if attended else "absent",
                                                   day=body.day, recorded_at=at))  # fmt: skip
        if attended:
            row = known[pid]
            first = min(d for d in (row.first_activity, body.day) if d)
            last = max(d for d in (row.last_activity, body.day) if d)
            conn.execute(
                update(participants).where(participants.c.id == pid).values(first_activity=first, last_activity=last, updated_at=at)
            )
        outbox.add_sync(conn, c.AttendanceRecorded(participant_id=pid, programme_id=activity.programme_id, activity_id=activity_id,
                                                   attended=attended, day=body.day), subject=f"participant/{pid}")  # fmt: skip
    return {"activity_id": activity_id, "day": body.day, "attended": len(body.attended), "absent": len(body.absent)}


def report_retention(conn: Connection, outbox: Outbox, principal: Principal, programme_id: str, period: str, body: s.RetentionIn) -> dict:
    """A partner employer's figures for a period (re-reporting a period replaces it)."""
    _programme(conn, programme_id)
    if principal.kind != "company" and not principal.is_admin:
        raise Forbidden()
    company_id = principal.id if principal.kind == "company" else body.company_id
    violations = []
    if not PERIOD.match(period):
        violations.append(Violation("period", "period_format", "a period is a year (2026), a half year (2026-H1) or a quarter (2026-Q3)"))
    if company_id is None:
        violations.append(Violation("company_id", "required", "say which employer these figures are of"))
    if body.kept > body.women_technical:
        violations.append(
            Violation("kept", "kept_above_total", "those kept are some of the women in technical roles at the period's start")
        )
    raise_if_any(violations)
    key = (
        (retention_reports.c.programme_id == programme_id)
        & (retention_reports.c.company_id == company_id)
        & (retention_reports.c.period == period)
    )
    previous = conn.execute(select(retention_reports.c.revision).where(key)).scalar()
    values = dict(women_technical=body.women_technical, hired=body.hired, kept=body.kept, reported_at=now())
    if previous is None:
        revision = 1
        conn.execute(
            insert(retention_reports).values(programme_id=programme_id, company_id=company_id, period=period, revision=1, **values)
        )
    else:
        revision = previous + 1
        conn.execute(update(retention_reports).where(key).values(revision=revision, **values))
    outbox.add_sync(conn, c.RetentionReported(programme_id=programme_id, company_id=company_id, period=period, revision=revision,
                                              women_technical=body.women_technical, hired=body.hired, kept=body.kept),
                    subject=f"retention/{programme_id}/{company_id}/{period}")  # fmt: skip
    return {"programme_id": programme_id, "company_id": company_id, "period": period, "revision": revision,
            "women_technical": body.women_technical, "hired": body.hired, "kept": body.kept}  # fmt: skip


def retention_of(conn: Connection, principal: Principal, programme_id: str) -> list[dict]:
    query = select(retention_reports).where(retention_reports.c.programme_id == programme_id)
    if principal.kind == "company":
        query = query.where(retention_reports.c.company_id == principal.id)
    elif not principal.is_admin:
        raise Forbidden()
    rows = conn.execute(query.order_by(retention_reports.c.company_id, retention_reports.c.period)).all()
    return [{"company_id": r.company_id, "period": r.period, "women_technical": r.women_technical, "hired": r.hired, "kept": r.kept,
             "revision": r.revision} for r in rows]  # fmt: skip


def indicator_table(conn: Connection, programme_id: str) -> list[dict]:
    rows = conn.execute(select(participants).where(participants.c.programme_id == programme_id)).all()
    return pdom.indicator_table([_stored(r) for r in rows])


def _indicators_changed(conn: Connection, outbox: Outbox, programme_id: str) -> None:
    outbox.add_sync(conn, c.RegisterIndicatorsUpdated(programme_id=programme_id, rows=indicator_table(conn, programme_id), as_of=now()),
                    subject=f"programme/{programme_id}")  # fmt: skip


def bsn_report(conn: Connection, vault: Vault, programme_id: str, year: int) -> list[dict]:
    """The yearly BSN report: every participant with an activity in `year` (and those registered in
    it without one yet), with her person number, name, date of birth and activity dates."""
    _programme(conn, programme_id)
    start, end = date(year, 1, 1), date(year, 12, 31)
    rows = conn.execute(select(participants).where(participants.c.programme_id == programme_id).order_by(participants.c.name)).all()
    out = []
    for r in rows:
        active = r.first_activity is not None and r.first_activity <= end and (r.last_activity or r.first_activity) >= start
        registered = r.first_activity is None and r.created_at.year == year
        if active or registered:
            out.append({"person_kind": r.person_kind, "person_number": vault.open(r.person_sealed, r.id), "name": r.name,
                        "birth_date": r.birth_date, "first_activity": r.first_activity, "last_activity": r.last_activity})  # fmt: skip
    return out


def set_keep_until(conn: Connection, programme_id: str, keep_until: date) -> dict:
    _programme(conn, programme_id)
    if conn.execute(select(programme_registers).where(programme_registers.c.programme_id == programme_id)).first():
        conn.execute(update(programme_registers).where(programme_registers.c.programme_id == programme_id).values(keep_until=keep_until))
    else:
        conn.execute(insert(programme_registers).values(programme_id=programme_id, keep_until=keep_until))
    return {"programme_id": programme_id, "keep_until": keep_until}


def forget_expired(conn: Connection, outbox: Outbox, today: date) -> int:
    """The retention job: registers whose keep-until date has passed lose every participant."""
    expired = select(programme_registers.c.programme_id).where(programme_registers.c.keep_until < today)
    rows = conn.execute(select(participants.c.id, participants.c.programme_id).where(participants.c.programme_id.in_(expired))).all()
    for r in rows:
        conn.execute(delete(participations).where(participations.c.participant_id == r.id))
        conn.execute(delete(participants).where(participants.c.id == r.id))
        outbox.add_sync(conn, c.ParticipantErased(participant_id=r.id, programme_id=r.programme_id, reason="retention"),
                        subject=f"participant/{r.id}")  # fmt: skip
    for programme_id in {r.programme_id for r in rows}:
        _indicators_changed(conn, outbox, programme_id)
    return len(rows)
