"""Event subscribers of the reporting service: every subscription, in one place.

Every event goes the same way: what it states about entities (domain.facts) is merged into their
latest-state rows (store.apply_facts), in the transaction of the inbox claim. The projections read
every owning stream; events without a fact (reminders, erasures: reporting keeps no pupil refs) are
still handled, so they count as processed rather than skipped.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.domain.facts import facts_for
from services.reporting.metrics import EVENTS_PROJECTED
from services.reporting.store import apply_facts, programmes_touched
from shared import contracts as c
from shared.broker import Consumer
from shared.envelope import CloudEvent

TOUCHED = "reporting_touched"  # session.info key: programmes whose figures this transaction changed

SUBSCRIPTIONS: dict[str, tuple[type[c.Contract], ...]] = {
    "registration": (
        c.ProgrammeOpened,
        c.ProgrammeClosed,
        c.SchoolRegistered,
        c.CompanyRegistered,
        c.GroupRegistered,
        c.GroupUpdated,
        c.GroupWithdrawn,
        c.ActivityRegistered,
        c.ActivityUpdated,
        c.ActivityCancelled,
        c.PupilErased,
        c.ParticipantRegistered,
        c.ParticipantUpdated,
        c.ParticipantErased,
        c.AttendanceRecorded,
        c.RetentionReported,
        c.RegisterIndicatorsUpdated,
    ),
    "matching": (c.RunCompleted, c.PlacementAssigned, c.PlacementCancelled, c.GroupWaitlisted),
    "surveys": (c.ResponseRecorded, c.ResultsUpdated, c.ReminderDue),
}


async def project(event: CloudEvent, data: c.Contract, session: AsyncSession) -> None:
    facts = facts_for(data, event_id=event.id, time=event.time)
    changed = await apply_facts(session, facts)
    EVENTS_PROJECTED.labels(event.type, str(changed).lower()).inc()
    if changed:  # the partner KPI publisher looks at these programmes after the commit
        session.info.setdefault(TOUCHED, []).append(programmes_touched(facts))


projections = Consumer(
    purpose="projections",
    streams=tuple(SUBSCRIPTIONS),
    handlers={contract: project for contracts in SUBSCRIPTIONS.values() for contract in contracts},
    batch_size=20,
)
