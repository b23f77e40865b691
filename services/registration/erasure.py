"""Erased codes leave the streams: the job that purges a group's superseded PupilsNamed events.

Only PupilsNamed events carry pupils' codes, each on its group's own subject. When a pupil is
erased, registration publishes a new PupilsNamed without her (and PupilErased). Once no
PupilsNamed of the group is left in the outbox (all are stored), this job purges the group's
subject from the REGISTRATION stream, and every dead-lettered copy of it, and then publishes the
group's current codes once more (so a consumer that had not read them yet still gets them; the
relays of several replicas may have stored the group's last two in either order, so keeping "the
newest" could keep hers). A second pass, `SECOND_PASS` later, purges the dead letters again (a
consumer may still have held an older copy). Design and its limits: docs/privacy.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, delete, or_, select, tuple_, update

from services.registration.store import erasures, groups, outbox, pupils
from services.registration.tx import read, write
from shared.contracts import PupilsNamed, names_subject
from shared.erasure import truncate_wal
from shared.outbox import Outbox
from shared.topology import DEAD_LETTER

log = logging.getLogger(__name__)
PURGE_EVERY_S = 5.0
SECOND_PASS = timedelta(minutes=10)
BATCH = 500


def dead_letters_of(subject: str) -> str:
    """Every dead-lettered copy of a catalogue subject (deadletter.<service>.<consumer>.<subject>)."""
    return f"deadletter.*.*.{subject}"


def _name_again(conn: Connection, outbox_: Outbox, group_id: str) -> None:
    group = conn.execute(select(groups.c.school_id, groups.c.programme_id, groups.c.revision).where(groups.c.id == group_id)).first()
    if group is None:
        return  # expired meanwhile (retention)
    codes = dict(conn.execute(select(pupils.c.ref, pupils.c.code).where(pupils.c.group_id == group_id)).all())
    named = PupilsNamed(group_id=group_id, school_id=group.school_id, programme_id=group.programme_id, codes=codes, revision=group.revision)
    outbox_.add_sync(conn, named, subject=f"group/{group_id}")


async def purge_erased(runtime, now: datetime | None = None) -> int:
    """Purge what the erasures so far still leave in the streams; how many erasures it handled."""
    now = now or datetime.now(UTC)

    def due(conn: Connection) -> tuple[list, set[str]]:
        rows = conn.execute(
            select(erasures.c.programme_id, erasures.c.group_id, erasures.c.ref, erasures.c.purged_at)
            .where(or_(erasures.c.purged_at.is_(None), erasures.c.purged_at < now - SECOND_PASS))
            .order_by(erasures.c.erased_at)
            .limit(BATCH)
        ).all()
        subjects = {names_subject(r.programme_id, r.group_id) for r in rows}
        waiting = set(conn.execute(select(outbox.c.subject).where(outbox.c.subject.in_(subjects))).scalars()) if subjects else set()
        return rows, waiting

    rows, waiting = await read(runtime, due)
    by_subject: dict[str, list] = {}
    for row in rows:
        by_subject.setdefault(names_subject(row.programme_id, row.group_id), []).append(row)
    js, topology = runtime.js, runtime.topology
    first: list = []
    second: list = []
    for subject, group_rows in by_subject.items():
        if subject in waiting:
            continue  # the PupilsNamed without her is not stored yet: purging now would keep her code
        new = [r for r in group_rows if r.purged_at is None]
        if new:
            await js.purge_stream(topology.stream_of_service("registration"), subject=topology.subject(subject))
        await js.purge_stream(topology.stream(DEAD_LETTER), subject=topology.subject(dead_letters_of(subject)))
        first += [(r.programme_id, r.group_id, r.ref) for r in new]
        second += [(r.programme_id, r.group_id, r.ref) for r in group_rows if r.purged_at is not None]
    if not first and not second:
        return 0

    def record(conn: Connection) -> None:
        key = tuple_(erasures.c.programme_id, erasures.c.group_id, erasures.c.ref)
        if first:
            conn.execute(update(erasures).where(and_(key.in_(first), erasures.c.purged_at.is_(None))).values(purged_at=now))
            for group_id in sorted({g for _, g, _ in first}):
                _name_again(conn, runtime.outbox, group_id)
        if second:
            conn.execute(delete(erasures).where(key.in_(second)))

    await write(runtime, record)
    await truncate_wal(runtime.engine)
    if first:
        log.info("purged the codes of %d erased pupils from the streams", len(first))
    return len(first) + len(second)
