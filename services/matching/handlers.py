"""Event subscribers of the matching service: every subscription, in one place.

The read model keeps the latest revision of each registration entity the engine needs. Events that
refer to an unknown programme, group or activity are retried (a batch may be handled out of order)
and then dead-lettered with the reason. A registered or changed group, a registered, changed or
cancelled activity and a withdrawn group ask for a re-allocation of the programme in the same
transaction as the change and its inbox claim; the re-allocation itself runs after that commits,
off the event loop (``service.reallocate_pending``), and clears the request when its own changes
commit -- so a batch of changes costs one re-allocation and nothing happens twice.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.store import entities, erased_pupils, get_entity, touch_programme, upsert_entity
from shared import contracts as c
from shared.broker import Consumer, PermanentError
from shared.envelope import CloudEvent
from shared.erasure import bury, erased


class UnknownReference(LookupError):
    """The event refers to a programme, group or activity this service does not know (yet).

    Retried, since events of one stream may be handled out of order; after the bounded number of
    deliveries the event is dead-lettered with this reason."""


async def _programme_must_exist(session: AsyncSession, programme_id: str) -> None:
    if await get_entity(session, "programme", programme_id) is None:
        raise UnknownReference(f"unknown programme {programme_id}")


def build_consumers(auto_run: bool = False, wake: Callable[[], None] = lambda: None) -> list[Consumer]:
    """A change that can move placements asks for a re-allocation, and (with ``auto_run``) a
    closed registration for a run, in the handler's transaction (``touch_programme``): the worker
    of ``app.py`` does the work after that commits, once, off the event loop. ``wake`` is called
    once the transaction has committed (the worker also polls)."""

    def after_commit(session: AsyncSession) -> None:
        sync = session.sync_session
        if not event.contains(sync, "after_commit", _wake):
            event.listen(sync, "after_commit", _wake, once=True)

    def _wake(_session) -> None:
        wake()

    async def changed(session: AsyncSession, programme_id: str) -> None:
        await touch_programme(session, programme_id, reallocate=True)
        after_commit(session)

    async def on_programme(event: CloudEvent, data: c.ProgrammeOpened, session: AsyncSession) -> None:
        await upsert_entity(session, "programme", data.programme_id, data.programme_id, data.revision, data.model_dump(mode="json"))

    async def on_programme_closed(event: CloudEvent, data: c.ProgrammeClosed, session: AsyncSession) -> None:
        await _programme_must_exist(session, data.programme_id)
        if auto_run:
            await touch_programme(session, data.programme_id, auto_run=True)
            after_commit(session)

    async def on_school(event: CloudEvent, data: c.SchoolRegistered, session: AsyncSession) -> None:
        await upsert_entity(session, "school", data.school_id, None, 1, data.model_dump(mode="json"))

    async def on_company(event: CloudEvent, data: c.CompanyRegistered, session: AsyncSession) -> None:
        await upsert_entity(session, "company", data.company_id, None, 1, data.model_dump(mode="json"))

    async def on_group(event: CloudEvent, data: c.GroupRegistered, session: AsyncSession) -> None:
        await _programme_must_exist(session, data.programme_id)
        stored = data.model_dump(mode="json")
        if gone := await erased(session, erased_pupils, data.group_id, [p.pupil_ref for p in data.pupils]):
            stored["pupils"] = [p for p in stored["pupils"] if p["pupil_ref"] not in gone]  # erased after this revision was sent
        if await upsert_entity(session, "group", data.group_id, data.programme_id, data.revision, stored):
            await changed(session, data.programme_id)

    async def on_group_withdrawn(event: CloudEvent, data: c.GroupWithdrawn, session: AsyncSession) -> None:
        row = await get_entity(session, "group", data.group_id)
        if row is None:
            raise UnknownReference(f"unknown group {data.group_id}")
        if await upsert_entity(session, "group", data.group_id, row.programme_id, data.revision, row.data, active=False):
            await changed(session, row.programme_id)

    async def on_activity(event: CloudEvent, data: c.ActivityRegistered, session: AsyncSession) -> None:
        await _programme_must_exist(session, data.programme_id)
        if await upsert_entity(session, "activity", data.activity_id, data.programme_id, data.revision, data.model_dump(mode="json")):
            await changed(session, data.programme_id)

    async def on_activity_cancelled(event: CloudEvent, data: c.ActivityCancelled, session: AsyncSession) -> None:
        row = await get_entity(session, "activity", data.activity_id)
        if row is None:
            raise UnknownReference(f"unknown activity {data.activity_id}")
        if await upsert_entity(session, "activity", data.activity_id, row.programme_id, data.revision, row.data, active=False):
            await changed(session, row.programme_id)

    async def on_pupil_erased(event: CloudEvent, data: c.PupilErased, session: AsyncSession) -> None:
        from sqlalchemy import select, update

        from services.matching.store import placements

        # A pupil code is unique only within its group: erase it there. An event naming no group
        # cannot say whose code it is (another school's pupil may have it): dead-lettered for a
        # person to resolve, as surveys does.
        if data.group_id is None:
            raise PermanentError(f"erasure of pupil {data.pupil_ref} names no group; erase by hand after finding her group")
        await bury(session, erased_pupils, data.group_id, data.pupil_ref, data.programme_id)
        groups = select(entities).where(entities.c.kind == "group", entities.c.id == data.group_id)
        held = select(placements.c.id, placements.c.pupil_refs).where(placements.c.group_id == data.group_id)
        for row in (await session.execute(groups)).all():
            pupils = row.data.get("pupils") or []
            if any(p["pupil_ref"] == data.pupil_ref for p in pupils):
                kept = [p for p in pupils if p["pupil_ref"] != data.pupil_ref]
                await session.execute(update(entities).where(entities.c.kind == "group", entities.c.id == row.id)
                                      .values(data=row.data | {"pupils": kept}))  # fmt: skip
        for row in (await session.execute(held)).all():
            if data.pupil_ref in row.pupil_refs:
                refs = [r for r in row.pupil_refs if r != data.pupil_ref]
                await session.execute(update(placements).where(placements.c.id == row.id).values(pupil_refs=refs))

    return [Consumer(purpose="readmodel", streams=("registration",), handlers={
        c.ProgrammeOpened: on_programme, c.ProgrammeClosed: on_programme_closed,
        c.SchoolRegistered: on_school, c.CompanyRegistered: on_company,
        c.GroupRegistered: on_group, c.GroupUpdated: on_group, c.GroupWithdrawn: on_group_withdrawn,
        c.ActivityRegistered: on_activity, c.ActivityUpdated: on_activity, c.ActivityCancelled: on_activity_cancelled,
        c.PupilErased: on_pupil_erased,
    })]  # fmt: skip
