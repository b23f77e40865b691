"""Registration's event subscribers — every subscription of the service is listed here.

audit: `<service>.audit.recorded` of all four streams -> the audit log (shared/audit.py).
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registration.store import audit_log
from shared.broker import Consumer
from shared.contracts import AuditRecorded
from shared.envelope import CloudEvent
from shared.settings import SERVICES


async def on_audit_recorded(event: CloudEvent, data: AuditRecorded, session: AsyncSession) -> None:
    """One row per event (the inbox makes a redelivery change nothing)."""
    await session.execute(insert(audit_log).values(id=event.id, **data.model_dump(exclude={"details"}), details=data.details))


audit = Consumer(purpose="audit", streams=SERVICES, subjects="audit.recorded", handlers={AuditRecorded: on_audit_recorded})
CONSUMERS = [audit]
