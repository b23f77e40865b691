"""The reporting service's own tables: one latest-state row per entity, and the queries over them.

Each entity table has its id, the merged state (per-field values and versions, see
`domain.projection`) and the fields the figures group or sum by, as typed columns.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    distinct,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.domain.cube import fold
from services.reporting.domain.projection import EntityState, Fact, merge
from services.reporting.domain.report import UNKNOWN, Aggregates
from shared import db
from shared.service import service_tables

metadata = MetaData()
outbox, inbox = service_tables(metadata)


def _entity(kind: str, *columns: Column) -> Table:
    return Table(
        f"rp_{kind}",
        metadata,
        Column("id", String(200), primary_key=True),
        *columns,
        Column("state", JSON, nullable=False),
    )


def _key(name: str) -> Column:
    return Column(name, String(100), index=True)


ENTITIES: dict[str, Table] = {
    "programme": _entity(
        "programme",
        Column("name", String(200)),
        Column("kind", String(40)),
        Column("event_date", String(10)),
        Column("status", String(20)),
        Column("target_pupils", Integer),
        Column("target_schools", Integer),
        Column("target_companies", Integer),
    ),
    "school": _entity("school", Column("level", String(10)), Column("province", String(100)), Column("municipality", String(200))),
    "company": _entity("company", Column("name", String(200)), Column("province", String(100))),
    "activity": _entity(
        "activity",
        _key("programme_id"),
        Column("company_id", String(100)),
        Column("sector", String(100)),
        Column("capacity", Integer),
        Column("province", String(100)),
        Column("status", String(20)),
    ),
    "group": _entity(
        "group",
        _key("programme_id"),
        Column("school_id", String(100)),
        Column("pupil_count", Integer),
        Column("registered_on", String(10)),
        Column("status", String(20)),
    ),
    "placement": _entity(
        "placement",
        _key("programme_id"),
        _key("group_id"),
        Column("school_id", String(100)),
        Column("activity_id", String(100)),
        Column("company_id", String(100)),
        Column("pupil_count", Integer),
        Column("distance_km", Float),
        Column("status", String(20)),
    ),
    "waitlist": _entity(
        "waitlist", _key("programme_id"), Column("group_id", String(100)), Column("school_id", String(100)), Column("pupil_count", Integer)
    ),
    "run": _entity("run"),
    "survey": _entity("survey"),
    "response": _entity("response", _key("programme_id"), Column("phase", String(10))),
    # energy-transition programmes
    "participant": _entity(
        "participant",
        _key("programme_id"),
        Column("target_group", String(32)),
        Column("employer_id", String(100)),
        Column("status", String(20)),
    ),
    "attendance": _entity(
        "attendance", _key("programme_id"), Column("activity_id", String(100)), Column("attended", Boolean), Column("day", String(10))
    ),
    "retention": _entity(
        "retention",
        _key("programme_id"),
        Column("company_id", String(100)),
        Column("period", String(7)),
        Column("women_technical", Integer),
        Column("hired", Integer),
        Column("kept", Integer),
    ),
    "register": _entity("register"),
}
KINDS_OF_PROGRAMME = {"programme", "run", "survey", "register"}  # keyed by programme id
# The typed columns of each entity table (those between its id and its state), in table order.
COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(c.name for c in table.columns if c.name not in ("id", "state")) for kind, table in ENTITIES.items()
}


def row_of(kind: str, key: str, state: EntityState) -> dict[str, Any]:
    fields = state.fields
    return {"id": key, **{name: fields.get(name) for name in COLUMNS[kind]}, "state": state.to_json()}


def programmes_touched(facts: Iterable[Fact]) -> set[str] | None:
    """The programmes whose figures the facts may change; None means every programme."""
    touched: set[str] = set()
    for fact in facts:
        if fact.kind in KINDS_OF_PROGRAMME:
            touched.add(fact.key)
        elif "programme_id" in fact.fields:
            touched.add(fact.fields["programme_id"])
        else:  # a school or company: its province/level feeds every programme it takes part in
            return None
    return touched


@functools.cache
def _statements(kind: str, dialect: str):
    """(read, update, insert) of one entity table, built once: the id and the values are parameters."""
    table = ENTITIES[kind]
    return (
        select(table.c.state).where(table.c.id == bindparam("key")).with_for_update(),
        update(table).where(table.c.id == bindparam("key")),
        db.insert(table, dialect).on_conflict_do_nothing(index_elements=["id"]),
    )


async def apply_facts(session: AsyncSession, facts: Iterable[Fact]) -> bool:
    """Merge facts into their entity rows (read, merge, write); True if any row changed."""
    changed_any = False
    dialect = session.bind.dialect.name
    for fact in facts:
        read, write, create = _statements(fact.kind, dialect)
        for _attempt in range(2):
            raw = (await session.execute(read, {"key": fact.key})).scalar_one_or_none()
            new, changed = merge(EntityState.from_json(raw), fact)
            if not changed:
                break
            row = row_of(fact.kind, fact.key, new)
            if raw is not None:
                del row["id"]
                await session.execute(write, {**row, "key": fact.key})
                break
            # A concurrent transaction may create the same entity: then merge into its row.
            inserted = await session.execute(create, row)
            if inserted.rowcount == 1:
                break
        changed_any |= changed
    return changed_any


async def replace_all(session: AsyncSession, entities: Mapping[tuple[str, str], EntityState]) -> int:
    """Replace every projection row by the given states (the rebuild); returns rows written."""
    await clear_all(session)
    return await insert_states(session, entities)


async def clear_all(session: AsyncSession) -> None:
    for table in ENTITIES.values():
        await session.execute(delete(table))


async def insert_states(session: AsyncSession, entities: Mapping[tuple[str, str], EntityState], batch: int = 5000) -> int:
    """Insert rows for states whose rows do not exist (after clear_all)."""
    by_kind: dict[str, list[tuple[str, EntityState]]] = {kind: [] for kind in ENTITIES}
    for (kind, key), state in entities.items():
        by_kind[kind].append((key, state))
    on_sqlite = session.bind.dialect.name == "sqlite"
    for kind, states in by_kind.items():
        for start in range(0, len(states), batch):
            chunk = states[start : start + batch]
            if on_sqlite:  # the driver's executemany: several times faster than a Core insert
                await _sqlite_insert_many(session, kind, chunk)
            else:
                await session.execute(insert(ENTITIES[kind]), [row_of(kind, key, state) for key, state in chunk])
    return sum(len(states) for states in by_kind.values())


async def _sqlite_insert_many(session: AsyncSession, kind: str, states: list[tuple[str, EntityState]]) -> None:
    """Rows as parameter tuples in table order (id, typed columns, state as JSON text)."""
    columns = COLUMNS[kind]
    names = ("id", *columns, "state")
    sql = f'INSERT INTO "{ENTITIES[kind].name}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})'
    dumps = orjson.dumps
    params = [
        (key, *[state.fields.get(name) for name in columns], dumps({"fields": state.fields, "versions": state.versions}).decode())
        for key, state in states
    ]
    connection = await session.connection()
    await connection.exec_driver_sql(sql, params)


async def load_states(session: AsyncSession) -> dict[tuple[str, str], EntityState]:
    states = {}
    for kind, table in ENTITIES.items():
        for key, raw in await session.execute(select(table.c.id, table.c.state)):
            states[(kind, key)] = EntityState.from_json(raw)
    return states


# --- queries ------------------------------------------------------------------------------------

P, S, G, A, C = (ENTITIES[k] for k in ("programme", "school", "group", "activity", "company"))
PL, W, R = ENTITIES["placement"], ENTITIES["waitlist"], ENTITIES["response"]


async def programmes(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(P.c.id, P.c.name, P.c.kind, P.c.event_date, P.c.status).order_by(P.c.event_date.desc(), P.c.id))
    return [dict(row._mapping) for row in rows]


def _province(column):
    return func.coalesce(column, literal(UNKNOWN))


def _group_cells(programme_id: str):
    """Per (province, level): active groups, pupils, pupils placed (active placements), parts, waitlist.

    Per-group figures come from correlated lookups on indexed columns (placement.group_id, the
    waitlist's primary key), which stays fast on both databases at national scale.
    """
    mine = and_(PL.c.group_id == G.c.id, PL.c.status == "assigned")  # group ids are unique
    placed = select(func.coalesce(func.sum(PL.c.pupil_count), 0)).where(mine).scalar_subquery()
    parts = select(func.count()).where(mine).scalar_subquery()
    per_group = (
        select(
            G.c.school_id,
            G.c.pupil_count.label("pupils"),
            placed.label("placed"),
            parts.label("parts"),
            case((W.c.id.is_(None), 0), else_=1).label("waiting"),
            _province(S.c.province).label("province"),
            _province(S.c.level).label("level"),
        )
        .select_from(G)
        .outerjoin(W, W.c.id == literal(f"{programme_id}:") + G.c.id)
        .outerjoin(S, S.c.id == G.c.school_id)
        .where(G.c.programme_id == programme_id, G.c.status == "active")
        .cte("per_group")
        .prefix_with("MATERIALIZED")  # else each use of placed/parts re-runs its lookup
    )
    g = per_group.c
    is_placed = g.placed > 0
    waitlisted = and_(~is_placed, g.waiting == 1)
    return select(
        g.province,
        g.level,
        func.count(distinct(g.school_id)).label("schools"),
        func.count().label("groups"),
        func.sum(g.pupils).label("pupils"),
        func.sum(case((g.placed >= g.pupils, g.pupils), else_=g.placed)).label("placed_pupils"),
        func.sum(case((g.placed >= g.pupils, 0), else_=g.pupils - g.placed)).label("unplaced_pupils"),
        func.sum(case((is_placed, 1), else_=0)).label("placed_groups"),
        func.sum(case((is_placed, 0), else_=1)).label("unplaced_groups"),
        func.sum(case((waitlisted, 1), else_=0)).label("waitlisted_groups"),
        func.sum(case((waitlisted, g.pupils), else_=0)).label("waitlisted_pupils"),
        func.sum(case((g.parts >= 2, 1), else_=0)).label("split_groups"),
        func.sum(g.parts).label("placements"),
    ).group_by(g.province, g.level)


def _distance_cells(programme_id: str):
    province, level = _province(S.c.province).label("province"), _province(S.c.level).label("level")
    return (
        select(province, level, func.sum(PL.c.distance_km).label("distance_sum"), func.count(PL.c.distance_km).label("distance_n"))
        .select_from(PL)
        .join(G, and_(G.c.id == PL.c.group_id, G.c.status == "active"))
        .outerjoin(S, S.c.id == PL.c.school_id)
        .where(PL.c.programme_id == programme_id, PL.c.status == "assigned")
        .group_by(province, level)
    )


def _activity_cells(programme_id: str, by: str | None):
    query = select(
        func.count(distinct(A.c.company_id)).label("companies"), func.count().label("activities"), func.sum(A.c.capacity).label("capacity")
    )
    if by is not None:
        province = func.coalesce(A.c.province, C.c.province, literal(UNKNOWN))
        key = {"province": province, "sector": A.c.sector}[by].label(by)
        query = query.add_columns(key).group_by(key)
    return query.select_from(A).outerjoin(C, C.c.id == A.c.company_id).where(A.c.programme_id == programme_id, A.c.status == "active")


async def aggregates(session: AsyncSession, programme_id: str) -> Aggregates | None:
    programme = (await session.execute(select(P).where(P.c.id == programme_id))).mappings().first()
    if programme is None:
        return None
    run = (await session.execute(select(ENTITIES["run"].c.state).where(ENTITIES["run"].c.id == programme_id))).scalar()
    survey = (await session.execute(select(ENTITIES["survey"].c.state).where(ENTITIES["survey"].c.id == programme_id))).scalar()
    group_cells = [dict(r._mapping) for r in await session.execute(_group_cells(programme_id))]
    distance_cells = [dict(r._mapping) for r in await session.execute(_distance_cells(programme_id))]
    activity_total = dict((await session.execute(_activity_cells(programme_id, None))).one()._mapping)
    activity_by = {
        by: [dict(r._mapping) for r in await session.execute(_activity_cells(programme_id, by))] for by in ("province", "sector")
    }
    placed_by_sector = dict(
        (
            await session.execute(
                select(A.c.sector, func.sum(PL.c.pupil_count))
                .select_from(PL)
                .join(A, A.c.id == PL.c.activity_id)
                .join(G, and_(G.c.id == PL.c.group_id, G.c.status == "active"))
                .where(PL.c.programme_id == programme_id, PL.c.status == "assigned")
                .group_by(A.c.sector)
            )
        ).all()
    )
    per_day = [
        {"day": day, "groups": groups, "pupils": int(pupils or 0)}
        for day, groups, pupils in await session.execute(
            select(G.c.registered_on, func.count(), func.sum(G.c.pupil_count))
            .where(G.c.programme_id == programme_id, G.c.status == "active", G.c.registered_on.is_not(None))
            .group_by(G.c.registered_on)
            .order_by(G.c.registered_on)
        )
    ]
    responses = dict(
        (await session.execute(select(R.c.phase, func.count()).where(R.c.programme_id == programme_id).group_by(R.c.phase))).all()
    )
    totals, breakdowns, mean_distance = fold(group_cells, distance_cells, activity_total, activity_by, placed_by_sector)
    fields = dict(programme)
    fields.pop("state")
    fields.pop("id")
    return Aggregates(
        programme_id=programme_id,
        programme=fields,
        totals=totals,
        mean_distance_km=mean_distance,
        breakdowns=breakdowns,
        per_day=per_day,
        run=(run or {}).get("fields"),
        survey=(survey or {}).get("fields"),
        responses=responses,
    )


async def overview(session: AsyncSession) -> dict[str, int]:
    """Counts over every programme: schools and companies known."""
    schools = (await session.execute(select(func.count()).select_from(S))).scalar_one()
    companies = (await session.execute(select(func.count()).select_from(C))).scalar_one()
    return {"schools": schools, "companies": companies}


async def programme_ids(session: AsyncSession) -> list[str]:
    return list((await session.execute(select(P.c.id).order_by(P.c.id))).scalars())


PA, AT, RT = ENTITIES["participant"], ENTITIES["attendance"], ENTITIES["retention"]


async def energy_figures(session: AsyncSession, programme_id: str) -> dict[str, Any] | None:
    """What an energy-transition programme reports: participants by target group, activities given
    and attendance, partner employers' retention figures per period, and the register's indicators."""
    programme = (await session.execute(select(P).where(P.c.id == programme_id))).mappings().first()
    if programme is None:
        return None
    by_group = dict(
        (
            await session.execute(
                select(PA.c.target_group, func.count())
                .where(PA.c.programme_id == programme_id, PA.c.status == "active")
                .group_by(PA.c.target_group)
            )
        ).all()
    )
    erased = (
        await session.execute(select(func.count()).select_from(PA).where(PA.c.programme_id == programme_id, PA.c.status == "erased"))
    ).scalar_one()
    attended = AT.c.attended.is_(True)
    given = (
        await session.execute(
            select(func.count(distinct(AT.c.activity_id)), func.count()).where(AT.c.programme_id == programme_id, attended)
        )
    ).one()
    absent = (
        await session.execute(select(func.count()).select_from(AT).where(AT.c.programme_id == programme_id, AT.c.attended.is_(False)))
    ).scalar_one()
    retention = [
        dict(r._mapping)
        for r in await session.execute(
            select(
                RT.c.company_id,
                C.c.name.label("company"),
                C.c.state.label("company_state"),
                RT.c.period,
                RT.c.women_technical,
                RT.c.hired,
                RT.c.kept,
            )  # fmt: skip
            .outerjoin(C, C.c.id == RT.c.company_id)
            .where(RT.c.programme_id == programme_id)
            .order_by(RT.c.company_id, RT.c.period)
        )
    ]
    register = (await session.execute(select(ENTITIES["register"].c.state).where(ENTITIES["register"].c.id == programme_id))).scalar()
    fields = dict(programme)
    fields.pop("state")
    return {
        "programme": fields,
        "participants_by_target_group": by_group,
        "participants_erased": erased,
        "activities_given": given[0],
        "attendances": given[1],
        "absences": absent,
        "retention": retention,
        "indicators": ((register or {}).get("fields") or {}).get("rows", []),
    }
