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
    PupilsNamed,
    SchoolRegistered,
)
from shared.envelope import CloudEvent
from shared.erasure import bury, erased

from . import store
from .domain.rules import new_token


async def programme_opened(event: CloudEvent, data: ProgrammeOpened, session: AsyncSession) -> None:
    current = await store.programme(session, data.programme_id)
    if current is not None and current.revision > data.revision:
        return  # an older revision arriving late
    await store.upsert(
        session,
        store.programmes,
        {
            "programme_id": data.programme_id,
            "kind": data.kind,
            "name": data.name,
            "event_date": data.event_date,
            "revision": data.revision,
            "allocation_mode": data.allocation_mode,
        },
        ["programme_id"],
    )


async def school_registered(event: CloudEvent, data: SchoolRegistered, session: AsyncSession) -> None:
    await store.upsert(session, store.schools, {"school_id": data.school_id, "name": data.name}, ["school_id"])


async def group_changed(event: CloudEvent, data: GroupRegistered, session: AsyncSession) -> None:
    """A group registered or changed: its pupils (codes, age, consent) and class names as they are
    now. After placement, pupils added are invited and pupils taken out lose their unused links."""
    known = await store.group(session, data.group_id)
    if known is not None and known.revision > data.revision:
        return  # an older revision arriving late
    await store.upsert(
        session,
        store.groups,
        {
            "group_id": data.group_id,
            "school_id": data.school_id,
            "programme_id": data.programme_id,
            "grades": list(data.grades),
            "revision": data.revision,
        },
        ["group_id"],
    )
    gone = await erased(session, store.erased_pupils, data.group_id, [p.pupil_ref for p in data.pupils])
    rows = [
        {
            "pupil_ref": p.pupil_ref,
            "group_id": data.group_id,
            "school_id": data.school_id,
            "programme_id": data.programme_id,
            "age": p.age,
            "parental_consent": p.parental_consent,
        }
        for p in data.pupils
        if p.pupil_ref not in gone  # erased after this revision was sent
    ]
    await store.replace_group_pupils(session, data.group_id, rows)
    latecomers = await store.follow_placed_group(session, data.programme_id, data.group_id, [r["pupil_ref"] for r in rows])
    for placement, refs in latecomers.items():
        await _invite(session, placement, refs, placement.placed_at)


async def pupils_named(event: CloudEvent, data: PupilsNamed, session: AsyncSession) -> None:
    gone = await erased(session, store.erased_pupils, data.group_id, data.codes)
    codes = {ref: code for ref, code in data.codes.items() if ref not in gone}
    await store.replace_group_codes(session, data.programme_id, data.group_id, codes, data.revision)


async def _invite(session: AsyncSession, placement, refs: list[str], placed_at) -> None:
    await store.insert_ignore(
        session,
        store.invitations,
        [
            {
                "token": new_token(),
                "pupil_ref": ref,
                "phase": phase,
                "programme_id": placement.programme_id,
                "school_id": placement.school_id,
                "group_id": placement.group_id,
                "activity_id": placement.activity_id,
                "placement_id": placement.placement_id,
                "placed_at": placed_at,
            }
            for ref in refs
            for phase in ("pre", "post")
        ],
        ["programme_id", "group_id", "pupil_ref", "phase"],
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
            pupils=data.pupil_count,
        )
    )
    refs = data.pupil_refs or await store.group_pupil_refs(session, data.group_id)
    gone = await erased(session, store.erased_pupils, data.group_id, refs)  # a placement made before her erasure
    refs = [ref for ref in refs if ref not in gone]
    if data.pupil_refs:
        # Matching names these pupils: a link given before (a pupil added to a split group, sent to
        # the part with room) follows her to this part, keeping its token (slips may be printed).
        await store.move_unused_invitations(session, data, refs, event.time)
    await _invite(session, data, refs, event.time)


async def placement_cancelled(event: CloudEvent, data: PlacementCancelled, session: AsyncSession) -> None:
    await store.cancel_placement(session, data.placement_id)


async def pupil_erased(event: CloudEvent, data: PupilErased, session: AsyncSession) -> None:
    if data.group_id is None:  # a code is unique within its group only: erasing by code alone could hit another child
        raise PermanentError(f"erasure of pupil {data.pupil_ref} names no group; erase by hand after finding her group")
    await bury(session, store.erased_pupils, data.group_id, data.pupil_ref, data.programme_id)
    await store.erase_pupil(session, data.group_id, data.pupil_ref)


CONSUMERS = (
    Consumer(
        purpose="invitations",
        streams=("registration", "matching"),
        handlers={
            ProgrammeOpened: programme_opened,
            SchoolRegistered: school_registered,
            GroupRegistered: group_changed,
            GroupUpdated: group_changed,
            PupilErased: pupil_erased,
            PupilsNamed: pupils_named,
            PlacementAssigned: placement_assigned,
            PlacementCancelled: placement_cancelled,
        },
    ),
)
