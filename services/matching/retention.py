"""Retention in matching: a programme's pupil data expire `GIRLSDAY_PUPIL_DATA_RETENTION_DAYS` after
its event date (shared/retention.py): the pupils of its groups (refs, ages, consent, rankings),
the refs on its placements and its waiting pupils go; groups, placements of groups and runs stay."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from services.matching.store import entities, erased_pupils, placements, waitlist
from shared.erasure import forget_programme
from shared.retention import expired

log = logging.getLogger(__name__)


async def expire(runtime, now: datetime | None = None) -> list[str]:
    """Expire what is due; the ids of the programmes whose pupil data went now."""
    now = now or datetime.now(UTC)
    days = runtime.settings.pupil_data_retention_days
    done = []
    async with runtime.sessions() as session, session.begin():
        programmes = (await session.execute(select(entities.c.id, entities.c.data).where(entities.c.kind == "programme"))).all()
        for programme in programmes:
            if not programme.data.get("event_date") or not expired(programme.data["event_date"], now, days):
                continue
            removed = 0
            of_programme = (entities.c.kind == "group") & (entities.c.programme_id == programme.id)
            for group in (await session.execute(select(entities.c.id, entities.c.data).where(of_programme))).all():
                if group.data.get("pupils"):
                    await session.execute(
                        update(entities).where(of_programme, entities.c.id == group.id).values(data={**group.data, "pupils": []})
                    )
                    removed += 1
            for row in (
                await session.execute(select(placements.c.id, placements.c.pupil_refs).where(placements.c.programme_id == programme.id))
            ).all():
                if row.pupil_refs:
                    await session.execute(update(placements).where(placements.c.id == row.id).values(pupil_refs=[]))
                    removed += 1
            waiting_pupils = (waitlist.c.programme_id == programme.id) & waitlist.c.unit_id.contains("/")
            removed += (await session.execute(delete(waitlist).where(waiting_pupils))).rowcount
            removed += await forget_programme(session, erased_pupils, programme.id)
            if removed:
                done.append(programme.id)
    if done:
        log.info("pupil data of %d programmes expired (retention %d days after the event date)", len(done), days)
    return done
