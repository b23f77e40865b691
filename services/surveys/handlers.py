"""Event subscribers of the surveys service: one handler per event; the table of contents is CONSUMERS."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.broker import Consumer, PermanentError
from shared.contracts import (
    GroupRegistered,
    GroupUpdated,
    PlacementAssigned,
    PlacementCancelled,
    ProgrammeOpened,
    PupilErased,
)
from shared.envelope import CloudEvent

from . import store
from .domain.rules import new_token


async def programme_opened(event: CloudEvent, data: ProgrammeOpened, session: AsyncSession) -> None:
    current = await store.programme(session, data.programme_id)
    if current is not None and current.revision > data.revision:
        return  # an older revision arriving late
    await store.upsert(
        session,
        store.programmes,
        {"programme_id": data.programme_id, "kind": data.kind, "name": data.name, "event_date": data.event_date, "revision": data.revision},
        ["programme_id"],
    )


async def group_registered(event: CloudEvent, data: GroupRegistered, session: AsyncSession) -> None:
    await store.replace_group_pupils(
        session,
        data.group_id,
        [
            {
                "pupil_ref": p.pupil_ref,
                "group_id": data.group_id,
                "school_id": data.school_id,
                "programme_id": data.programme_id,
                "age": p.age,
                "parental_consent": p.parental_consent,
            }
            for p in data.pupils
        ],
    )


async def placement_assigned(event: CloudEvent, data: PlacementAssigned, session: AsyncSession) -> None:
    known = (
        await session.execute(select(store.placements.c.placement_id).where(store.placements.c.placement_id == data.placement_id))
    ).first()
    if known:
        return
    await session.execute(
        store.placements.insert().values(
            placement_id=data.placement_id,
            programme_id=data.programme_id,
            group_id=data.group_id,
            school_id=data.school_id,
            activity_id=data.activity_id,
            placed_at=event.time,
            cancelled=False,
        )
    )
    refs = data.pupil_refs or await store.group_pupil_refs(session, data.group_id)
    await store.insert_ignore(
        session,
        store.invitations,
        [
            {
                "token": new_token(),
                "pupil_ref": ref,
                "phase": phase,
                "programme_id": data.programme_id,
                "school_id": data.school_id,
                "group_id": data.group_id,
                "activity_id": data.activity_id,
                "placement_id": data.placement_id,
                "placed_at": event.time,
            }
            for ref in refs
            for phase in ("pre", "post")
        ],
        ["programme_id", "group_id", "pupil_ref", "phase"],
    )


async def placement_cancelled(event: CloudEvent, data: PlacementCancelled, session: AsyncSession) -> None:
    await store.cancel_placement(session, data.placement_id)


async def pupil_erased(event: CloudEvent, data: PupilErased, session: AsyncSession) -> None:
    if data.group_id is None:  # a code is unique within its group only: erasing by code alone could hit another child
        raise PermanentError(f"erasure of pupil {data.pupil_ref} names no group; erase by hand after finding her group")
    await store.erase_pupil(session, data.group_id, data.pupil_ref)


CONSUMERS = (
    Consumer(
        purpose="invitations",
        streams=("registration", "matching"),
        handlers={
            ProgrammeOpened: programme_opened,
            GroupRegistered: group_registered,
            GroupUpdated: group_registered,
            PupilErased: pupil_erased,
            PlacementAssigned: placement_assigned,
            PlacementCancelled: placement_cancelled,
        },
    ),
)
