"""The matching service's own tables: the read model built from registration events, runs and
their placements, and the per-programme run lock."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db
from shared.erasure import tombstones_table
from shared.service import service_tables

metadata = MetaData()
outbox, inbox = service_tables(metadata)

# Latest state of every registration entity this service needs, as the event data (order-tolerant:
# a lower revision never overwrites a higher one).
entities = Table(
    "entities", metadata,
    Column("kind", String(16), primary_key=True),  # programme, school, company, group, activity
    Column("id", String(64), primary_key=True),
    Column("programme_id", String(64), index=True),
    Column("revision", Integer, nullable=False, default=1),
    Column("active", Boolean, nullable=False, default=True),  # False: withdrawn / cancelled
    Column("data", JSON, nullable=False),
)  # fmt: skip

erased_pupils = tombstones_table(metadata)  # no later event brings an erased pupil back (shared/erasure.py)

runs = Table(
    "runs", metadata,
    Column("id", String(36), primary_key=True),
    Column("programme_id", String(64), index=True, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # proposal | published | superseded
    Column("seed", Integer, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("inputs_digest", String(64), nullable=False),
    Column("quality", JSON, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
)  # fmt: skip

placements = Table(
    "placements", metadata,
    Column("id", String(36), primary_key=True),
    Column("run_id", String(36), index=True, nullable=False),
    Column("programme_id", String(64), index=True, nullable=False),
    Column("group_id", String(64), index=True, nullable=False),
    Column("school_id", String(64), nullable=False),
    Column("activity_id", String(64), index=True, nullable=False),
    Column("company_id", String(64), nullable=False),
    Column("pupils", Integer, nullable=False),
    Column("pupil_refs", JSON, nullable=False),
    Column("distance_km", Float),
    Column("preference_rank", Integer),
    Column("reason", String(300), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
)  # fmt: skip

waitlist = Table(
    "waitlist", metadata,
    Column("run_id", String(36), primary_key=True),
    Column("unit_id", String(64), primary_key=True),  # group id (group mode) or "<group_id>/<pupil_ref>"
    Column("programme_id", String(64), index=True, nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("school_id", String(64), nullable=False),
    Column("pupils", Integer, nullable=False),
    Column("reason", String(300), nullable=False),
)  # fmt: skip

run_locks = Table(
    "run_locks", metadata,
    Column("programme_id", String(64), primary_key=True),
    Column("run_id", String(36), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
)  # fmt: skip


# Staff decisions are inputs: a pinned group keeps its placement (these parts) in every later run
# and re-allocation until staff release it (or its activity is cancelled / the group withdrawn).
pins = Table(
    "pins", metadata,
    Column("programme_id", String(64), primary_key=True),
    Column("group_id", String(64), primary_key=True),
    Column("parts", JSON, nullable=False),  # [{"activity_id": ..., "pupils": n}]
    Column("reason", String(500), nullable=False),
    Column("decided_by", String(100), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)  # fmt: skip

# Every staff action on a run (move, place by hand, pin, release), with who, why and what it changed.
decisions = Table(
    "decisions", metadata,
    Column("id", String(36), primary_key=True),
    Column("programme_id", String(64), index=True, nullable=False),
    Column("run_id", String(36), index=True, nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # move | place | pin | release
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("decided_by", String(100), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)  # fmt: skip

# Work a programme waits for, committed with its cause (the consumer's inbox claim, a staff action):
# a re-allocation after a change in the read model, a run after registration closed. ``version``
# grows with every change to the programme's read model or placements; a worker applies what it
# computed only if the version is still the one it read (else it computes again).
programme_work = Table(
    "programme_work", metadata,
    Column("programme_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False, default=0),
    Column("reallocate", Boolean, nullable=False, default=False),
    Column("auto_run", Boolean, nullable=False, default=False),
)  # fmt: skip


def _insert(session: AsyncSession, table: Table):
    return db.insert(table, session)


async def upsert_entity(session: AsyncSession, kind: str, id_: str, programme_id: str | None, revision: int,
                        data: dict, active: bool = True) -> bool:  # fmt: skip
    """Store the entity unless a newer revision is already there. True when stored."""
    current = (await session.execute(
        select(entities.c.revision).where(entities.c.kind == kind, entities.c.id == id_))).scalar_one_or_none()  # fmt: skip
    if current is not None and current > revision:
        return False
    values = {"kind": kind, "id": id_, "programme_id": programme_id, "revision": revision, "active": active, "data": data}
    stmt = _insert(session, entities).values(**values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["kind", "id"], set_=values))
    return True


async def get_entity(session: AsyncSession, kind: str, id_: str):
    return (await session.execute(select(entities).where(entities.c.kind == kind, entities.c.id == id_))).first()


async def entities_of(session: AsyncSession, kind: str, programme_id: str | None = None, active_only: bool = True):
    q = select(entities).where(entities.c.kind == kind)
    if programme_id is not None:
        q = q.where(entities.c.programme_id == programme_id)
    if active_only:
        q = q.where(entities.c.active.is_(True))
    return (await session.execute(q.order_by(entities.c.id))).all()


async def try_lock(session: AsyncSession, programme_id: str, run_id: str, now) -> bool:
    stmt = _insert(session, run_locks).values(programme_id=programme_id, run_id=run_id, started_at=now)
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["programme_id"]))
    return result.rowcount == 1


async def touch_programme(session: AsyncSession, programme_id: str, *, reallocate: bool = False, auto_run: bool = False) -> None:
    """Count a change of the programme (and ask for a re-allocation or a run), in the caller's transaction."""
    values = {"programme_id": programme_id, "version": 1, "reallocate": reallocate, "auto_run": auto_run}
    change = {"version": programme_work.c.version + 1}
    if reallocate:
        change["reallocate"] = True
    if auto_run:
        change["auto_run"] = True
    stmt = _insert(session, programme_work).values(**values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["programme_id"], set_=change))
