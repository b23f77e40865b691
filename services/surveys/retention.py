"""Retention in surveys: a programme's pupil data expire `GIRLSDAY_PUPIL_DATA_RETENTION_DAYS` after
its event date (shared/retention.py): tokens, answers, codes, ages, consent and tombstones go; the
aggregated results stay (they are recomputed only while invitations exist, so they keep the
figures of the whole edition) and so do placements and reminders (about schools, not pupils)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import delete, select

from shared.erasure import forget_programme, truncate_wal
from shared.retention import expired

from . import store

log = logging.getLogger(__name__)


async def expire(runtime, now: datetime | None = None) -> list[str]:
    """Expire what is due; the ids of the programmes whose pupil data went now."""
    now = now or datetime.now(UTC)
    days = runtime.settings.pupil_data_retention_days
    done = []
    async with runtime.sessions() as session, session.begin():
        for programme_id, event_date in (
            await session.execute(select(store.programmes.c.programme_id, store.programmes.c.event_date))
        ).all():
            if not expired(store.as_date(event_date), now, days):
                continue
            removed = 0
            for table in (store.responses, store.invitations, store.pupils, store.pupil_codes):
                removed += (await session.execute(delete(table).where(table.c.programme_id == programme_id))).rowcount
            removed += await forget_programme(session, store.erased_pupils, programme_id)
            if removed:
                done.append(programme_id)
    if done:
        await truncate_wal(runtime.engine)
        log.info("pupil data of %d programmes expired (retention %d days after the event date)", len(done), days)
    return done
