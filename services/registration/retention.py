"""Retention in registration: a programme's pupil entries expire `GIRLSDAY_PUPIL_DATA_RETENTION_DAYS`
after its event date (shared/retention.py).

The groups stay (school, pupil count, preferences: what reports need); each pupil entry goes (code,
age, consent, ranking), with her pseudonym, and the programme's PupilsNamed events leave the
REGISTRATION stream and the dead letters. The other services expire their own pupil data on the
same rule; nothing is published for it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select, update

from services.registration.erasure import dead_letters_of
from services.registration.store import erasures, expired_programmes, groups, outbox, programmes, pupils
from services.registration.tx import read, write
from shared.contracts import names_subject
from shared.erasure import truncate_wal
from shared.retention import expired
from shared.topology import DEAD_LETTER

log = logging.getLogger(__name__)


async def expire(runtime, now: datetime | None = None) -> list[str]:
    """Expire what is due; the ids of the programmes whose pupil data went now."""
    now = now or datetime.now(UTC)
    days = runtime.settings.pupil_data_retention_days

    def due(conn: Connection) -> list[str]:
        return [row.id for row in conn.execute(select(programmes.c.id, programmes.c.event_date)) if expired(row.event_date, now, days)]

    candidates = await read(runtime, due)
    if not candidates:
        return []

    def clear(conn: Connection) -> list[str]:
        holding = select(groups.c.programme_id).join(pupils, pupils.c.group_id == groups.c.id).where(groups.c.programme_id.in_(candidates))
        done = sorted(set(conn.execute(holding.distinct()).scalars()))
        for programme_id in done:
            of_programme = select(groups.c.id).where(groups.c.programme_id == programme_id)
            for row in conn.execute(select(groups.c.id, groups.c.data).where(groups.c.programme_id == programme_id)).all():
                if row.data.get("pupils"):
                    conn.execute(update(groups).where(groups.c.id == row.id).values(data={**row.data, "pupils": []}))
            conn.execute(delete(pupils).where(pupils.c.group_id.in_(of_programme)))
            conn.execute(delete(erasures).where(erasures.c.programme_id == programme_id))
            # codes still waiting to be published would reach the stream after the purge below
            conn.execute(delete(outbox).where(outbox.c.subject.like(names_subject(programme_id, "%"))))
            conn.execute(delete(expired_programmes).where(expired_programmes.c.programme_id == programme_id))
            conn.execute(insert(expired_programmes).values(programme_id=programme_id, expired_at=now))
        return done

    done = await write(runtime, clear)
    await _purge(runtime, now)
    if done:
        log.info("pupil data of %d programmes expired (retention %d days after the event date)", len(done), days)
    return done


async def _purge(runtime, now: datetime) -> None:
    """Purge the codes of expired programmes from the streams (again after a failure: retried hourly)."""

    def pending(conn: Connection) -> list[str]:
        return list(conn.execute(select(expired_programmes.c.programme_id).where(expired_programmes.c.purged_at.is_(None))).scalars())

    js, topology = runtime.js, runtime.topology
    purged = []
    for programme_id in await read(runtime, pending):
        every_group = names_subject(programme_id)
        await js.purge_stream(topology.stream_of_service("registration"), subject=topology.subject(every_group))
        await js.purge_stream(topology.stream(DEAD_LETTER), subject=topology.subject(dead_letters_of(every_group)))
        purged.append(programme_id)
    if purged:

        def record(conn: Connection) -> None:
            conn.execute(update(expired_programmes).where(expired_programmes.c.programme_id.in_(purged)).values(purged_at=now))

        await write(runtime, record)
        await truncate_wal(runtime.engine)
