"""The surveys service's own tables (SQLAlchemy Core) and the queries on them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db
from shared.erasure import tombstones_table
from shared.service import service_tables

metadata = MetaData()
outbox, inbox = service_tables(metadata)

programmes = Table(
    "programmes",
    metadata,
    Column("programme_id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("event_date", Date, nullable=False),
    Column("pre_closes", DateTime(timezone=True)),  # override of the default close
    Column("post_closes", DateTime(timezone=True)),  # override of the default close
    Column("revision", Integer, nullable=False, default=1),
    Column("allocation_mode", String(16), nullable=False, default="groups", server_default="groups"),
)

schools = Table(  # read model from registration.school.*: organisation data only (the school's name)
    "schools",
    metadata,
    Column("school_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
)

groups = Table(  # read model from registration.group.*: the class names, never the teacher's name
    "groups",
    metadata,
    Column("group_id", String(64), primary_key=True),
    Column("school_id", String(64), nullable=False),
    Column("programme_id", String(64), nullable=False),
    Column("grades", JSON, nullable=False),
    Column("revision", Integer, nullable=False),
)

# A pupil is (group_id, pupil_ref): schools choose the codes, unique within a group only, so two
# schools' "2b-01" are two pupils, each with her own consent, tokens, answers and erasure.
pupils = Table(  # read model from registration.group.*: pseudonymous refs, age, consent
    "pupils",
    metadata,
    Column("group_id", String(64), primary_key=True),
    Column("pupil_ref", String(64), primary_key=True),
    Column("school_id", String(64), nullable=False),
    Column("programme_id", String(64), nullable=False),
    Column("age", Integer),
    Column("parental_consent", Boolean, nullable=False, default=False),
)

pupil_codes = Table(  # read model from registration.pupils.*.named: the code a teacher knows her by
    "pupil_codes",
    metadata,
    Column("group_id", String(64), primary_key=True),
    Column("pupil_ref", String(64), primary_key=True),
    Column("programme_id", String(64), nullable=False, index=True),
    Column("code", String(64), nullable=False),
    Column("revision", Integer, nullable=False),
)

erased_pupils = tombstones_table(metadata)  # no later event brings an erased pupil back (shared/erasure.py)

placements = Table(
    "placements",
    metadata,
    Column("placement_id", String(64), primary_key=True),
    Column("programme_id", String(64), nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("school_id", String(64), nullable=False),
    Column("activity_id", String(64), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("cancelled", Boolean, nullable=False, default=False),
    Column("pupils", Integer),  # places matching gave the group (part) here; None: placed before this was kept
)

invitations = Table(  # one pseudonymous token per pupil per phase
    "invitations",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("pupil_ref", String(64), nullable=False),
    Column("phase", String(4), nullable=False),
    Column("programme_id", String(64), nullable=False),
    Column("school_id", String(64), nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("activity_id", String(64), nullable=False),
    Column("placement_id", String(64), nullable=False, index=True),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("programme_id", "group_id", "pupil_ref", "phase", name="uq_invitation_pupil_phase"),
    Index("ix_invitations_school", "programme_id", "school_id"),
    Index("ix_invitations_pupil", "group_id", "pupil_ref"),
)

responses = Table(
    "responses",
    metadata,
    Column("response_id", String(64), primary_key=True),
    Column("token", String(64), nullable=False, unique=True),  # one response per token (= per phase)
    Column("pupil_ref", String(64), nullable=False, index=True),
    Column("phase", String(4), nullable=False),
    Column("programme_id", String(64), nullable=False, index=True),
    Column("school_id", String(64), nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("activity_id", String(64), nullable=False),
    Column("questionnaire", String(100), nullable=False),
    Column("answers", JSON, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

questionnaires = Table(  # admin-defined questionnaires per programme; the shipped ones are files
    "questionnaires",
    metadata,
    Column("programme_id", String(64), primary_key=True),
    Column("phase", String(4), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

reminders = Table(  # one reminder per school, programme and phase
    "reminders",
    metadata,
    Column("programme_id", String(64), primary_key=True),
    Column("school_id", String(64), primary_key=True),
    Column("phase", String(4), primary_key=True),
    Column("response_rate", Float, nullable=False),
    Column("closes_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

results = Table(  # the latest computed results per programme (what the API shows)
    "results",
    metadata,
    Column("programme_id", String(64), primary_key=True),
    Column("fingerprint", String(200), nullable=False),
    Column("figures", JSON, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored moment is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


async def upsert(session: AsyncSession, table: Table, values: dict[str, Any], keys: list[str]) -> None:
    await session.execute(db.upsert(table, session, values, keys))


async def insert_ignore(session: AsyncSession, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> int:
    if not rows:
        return 0
    result = await session.execute(db.insert(table, session).values(rows).on_conflict_do_nothing(index_elements=keys))
    return result.rowcount


async def programme(session: AsyncSession, programme_id: str):
    return (await session.execute(select(programmes).where(programmes.c.programme_id == programme_id))).first()


async def replace_group_pupils(session: AsyncSession, group_id: str, rows: list[dict[str, Any]]) -> None:
    keep = [r["pupil_ref"] for r in rows]
    await session.execute(delete(pupils).where(and_(pupils.c.group_id == group_id, pupils.c.pupil_ref.not_in(keep))))
    for row in rows:
        await upsert(session, pupils, row, ["group_id", "pupil_ref"])


async def group(session: AsyncSession, group_id: str):
    return (await session.execute(select(groups).where(groups.c.group_id == group_id))).first()


async def follow_placed_group(session: AsyncSession, programme_id: str, group_id: str, refs: list[str]) -> dict[Any, list[str]]:
    """A placed group's pupils changed (group mode: matching placed the group, not each pupil). A
    pupil taken out loses her unused links (answers given stay); the pupils added, returned per
    live placement to be invited, each to the one with the most places left (a placement naming
    her that arrives later moves her link there). In individual mode matching places (and so
    invites) each added pupil herself."""
    mode = (await session.execute(select(programmes.c.allocation_mode).where(programmes.c.programme_id == programme_id))).scalar()
    live = (
        await session.execute(
            select(placements)
            .where(placements.c.group_id == group_id, placements.c.cancelled.is_(False))
            .order_by(placements.c.placed_at, placements.c.placement_id)
        )
    ).all()
    if not live or mode == "individual":
        return {}
    invited = dict(
        (await session.execute(select(invitations.c.pupil_ref, invitations.c.placement_id).where(invitations.c.group_id == group_id))).all()
    )
    gone = [ref for ref in invited if ref not in refs]
    if gone:
        used = select(responses.c.token)
        await session.execute(
            delete(invitations).where(
                invitations.c.group_id == group_id, invitations.c.pupil_ref.in_(gone), invitations.c.token.not_in(used)
            )
        )
    taken = {p.placement_id: sum(1 for ref, pid in invited.items() if pid == p.placement_id and ref in refs) for p in live}
    added: dict[Any, list[str]] = {}
    for ref in refs:
        if ref in invited:
            continue
        here = max(live, key=lambda p: ((p.pupils or 0) - taken[p.placement_id], -live.index(p)))
        taken[here.placement_id] += 1
        added.setdefault(here, []).append(ref)
    return added


async def move_unused_invitations(session: AsyncSession, placement, refs: list[str], placed_at: datetime) -> None:
    """Unused links of these pupils of the placement's group now belong to this placement."""
    await session.execute(
        update(invitations)
        .where(
            invitations.c.group_id == placement.group_id,
            invitations.c.pupil_ref.in_(refs),
            invitations.c.placement_id != placement.placement_id,
            invitations.c.token.not_in(select(responses.c.token)),
        )
        .values(placement_id=placement.placement_id, activity_id=placement.activity_id, placed_at=placed_at)
    )


async def group_pupil_refs(session: AsyncSession, group_id: str) -> list[str]:
    return list((await session.execute(select(pupils.c.pupil_ref).where(pupils.c.group_id == group_id))).scalars())


def _invitation_query():
    latest = (
        select(func.max(questionnaires.c.version))
        .where(questionnaires.c.programme_id == invitations.c.programme_id, questionnaires.c.phase == invitations.c.phase)
        .scalar_subquery()
        .label("questionnaire_version")
    )
    return (
        select(
            invitations,
            pupils.c.age,
            pupils.c.parental_consent,
            programmes.c.kind,
            programmes.c.event_date,
            programmes.c.pre_closes,
            programmes.c.post_closes,
            responses.c.response_id,
            latest,
        )
        .outerjoin(pupils, and_(pupils.c.group_id == invitations.c.group_id, pupils.c.pupil_ref == invitations.c.pupil_ref))
        .outerjoin(programmes, programmes.c.programme_id == invitations.c.programme_id)
        .outerjoin(responses, responses.c.token == invitations.c.token)
    )


async def invitation_for_response(session, token: str):
    """The invitation with what deciding on a response needs: pupil consent, programme dates,
    whether it was used, and the newest admin-defined questionnaire version."""
    return (await session.execute(_invitation_query().where(invitations.c.token == token))).first()


async def invitations_for_responses(session, tokens: list[str]) -> dict[str, Any]:
    rows = (await session.execute(_invitation_query().where(invitations.c.token.in_(tokens)))).all()
    return {row.token: row for row in rows}


async def questionnaire_definition(session: AsyncSession, programme_id: str, phase: str, version: int) -> dict:
    query = select(questionnaires.c.definition).where(
        questionnaires.c.programme_id == programme_id, questionnaires.c.phase == phase, questionnaires.c.version == version
    )
    return (await session.execute(query)).scalar_one()


async def latest_questionnaire_version(session: AsyncSession, programme_id: str, phase: str) -> int:
    query = select(func.max(questionnaires.c.version)).where(questionnaires.c.programme_id == programme_id, questionnaires.c.phase == phase)
    return (await session.execute(query)).scalar_one_or_none() or 0


async def school(session: AsyncSession, school_id: str):
    return (await session.execute(select(schools).where(schools.c.school_id == school_id))).first()


async def school_groups(session: AsyncSession, programme_id: str, school_id: str) -> dict[str, list[str]]:
    """The class names (grades) of a school's groups in a programme."""
    query = select(groups.c.group_id, groups.c.grades).where(groups.c.programme_id == programme_id, groups.c.school_id == school_id)
    return {row.group_id: list(row.grades or []) for row in (await session.execute(query)).all()}


async def school_pupils(session: AsyncSession, programme_id: str, school_id: str) -> dict[tuple[str, str], tuple[int | None, bool]]:
    """(group, code) -> (age, parental consent) of a school's pupils in a programme."""
    query = select(pupils.c.group_id, pupils.c.pupil_ref, pupils.c.age, pupils.c.parental_consent).where(
        pupils.c.programme_id == programme_id, pupils.c.school_id == school_id
    )
    return {(r.group_id, r.pupil_ref): (r.age, r.parental_consent) for r in (await session.execute(query)).all()}


async def school_invitations(session: AsyncSession, programme_id: str, school_id: str):
    query = (
        select(invitations, responses.c.response_id)
        .outerjoin(responses, responses.c.token == invitations.c.token)
        .where(invitations.c.programme_id == programme_id, invitations.c.school_id == school_id)
        .order_by(invitations.c.group_id, invitations.c.pupil_ref, invitations.c.phase)
    )
    return (await session.execute(query)).all()


async def counts_per_school(session: AsyncSession):
    """(programme, school, phase, invited, responded) for every school with invitations."""
    query = (
        select(
            invitations.c.programme_id,
            invitations.c.school_id,
            invitations.c.phase,
            func.count(invitations.c.token).label("invited"),
            func.count(responses.c.response_id).label("responded"),
        )
        .outerjoin(responses, responses.c.token == invitations.c.token)
        .group_by(invitations.c.programme_id, invitations.c.school_id, invitations.c.phase)
    )
    return (await session.execute(query)).all()


async def erase_pupil(session: AsyncSession, group_id: str, pupil_ref: str) -> None:
    """Remove the pupil's tokens, responses, code and read-model row (hers only: a ref is unique within its group)."""
    await session.execute(delete(responses).where(responses.c.group_id == group_id, responses.c.pupil_ref == pupil_ref))
    await session.execute(delete(invitations).where(invitations.c.group_id == group_id, invitations.c.pupil_ref == pupil_ref))
    await session.execute(delete(pupils).where(pupils.c.group_id == group_id, pupils.c.pupil_ref == pupil_ref))
    await session.execute(delete(pupil_codes).where(pupil_codes.c.group_id == group_id, pupil_codes.c.pupil_ref == pupil_ref))


async def replace_group_codes(session: AsyncSession, programme_id: str, group_id: str, codes: dict[str, str], revision: int) -> None:
    """The group's codes as of `revision`; an older revision arriving late changes nothing."""
    newest = (await session.execute(select(func.max(pupil_codes.c.revision)).where(pupil_codes.c.group_id == group_id))).scalar()
    if newest is not None and newest > revision:
        return
    await session.execute(delete(pupil_codes).where(pupil_codes.c.group_id == group_id))
    if codes:
        rows = [
            {"group_id": group_id, "pupil_ref": ref, "programme_id": programme_id, "code": code, "revision": revision}
            for ref, code in codes.items()
        ]
        await session.execute(pupil_codes.insert(), rows)


async def school_codes(session: AsyncSession, group_ids: list[str]) -> dict[tuple[str, str], str]:
    query = select(pupil_codes.c.group_id, pupil_codes.c.pupil_ref, pupil_codes.c.code).where(pupil_codes.c.group_id.in_(group_ids))
    return {(g, ref): code for g, ref, code in (await session.execute(query)).all()}


async def cancel_placement(session: AsyncSession, placement_id: str) -> None:
    """Unused tokens of a cancelled placement stop working; responses already given stay."""
    await session.execute(update(placements).where(placements.c.placement_id == placement_id).values(cancelled=True))
    used = select(responses.c.token)
    await session.execute(delete(invitations).where(invitations.c.placement_id == placement_id, invitations.c.token.not_in(used)))


async def fingerprints(session: AsyncSession) -> dict[str, str]:
    """Per programme, a cheap summary that changes whenever its results could change."""
    invited = (await session.execute(select(invitations.c.programme_id, func.count()).group_by(invitations.c.programme_id))).all()
    answered = {
        row[0]: (row[1], row[2])
        for row in (
            await session.execute(
                select(responses.c.programme_id, func.count(), func.max(responses.c.recorded_at)).group_by(responses.c.programme_id)
            )
        ).all()
    }
    return {programme_id: "{}|{}|{}".format(n, *answered.get(programme_id, (0, None))) for programme_id, n in invited}


async def programme_rows(session: AsyncSession, programme_id: str):
    """Invitations and responses of a programme, each pupil as "group/code" (codes repeat across groups)."""
    inv = (
        await session.execute(
            select(
                (invitations.c.group_id + "/" + invitations.c.pupil_ref).label("pupil"),
                invitations.c.phase,
                invitations.c.school_id,
                invitations.c.activity_id,
            ).where(invitations.c.programme_id == programme_id)
        )
    ).all()
    res = (
        await session.execute(
            select(
                (responses.c.group_id + "/" + responses.c.pupil_ref).label("pupil"),
                responses.c.phase,
                responses.c.school_id,
                responses.c.activity_id,
                responses.c.answers,
            ).where(responses.c.programme_id == programme_id)
        )
    ).all()
    return inv, res


async def stored_results(session: AsyncSession, programme_id: str):
    return (await session.execute(select(results).where(results.c.programme_id == programme_id))).first()
