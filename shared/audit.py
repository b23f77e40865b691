"""The audit log: who did what and when, recorded where the action happens, kept by registration.

Call it in the same transaction as the action, so an entry exists exactly when the action
committed (it travels through the service's outbox as `<service>.audit.recorded`; registration's
`audit` consumer keeps the log, and beheerders search it at registration's /staff/audit):

    # a service on AsyncSession (matching, surveys, reporting)
    await audit.record(session, runtime.outbox, who, "run.started", subject=("run", run_id), programme_id=pid, seed=7)
    # registration's commands (a Connection)
    audit.record_sync(conn, runtime.outbox, who, "programme.opened", subject=("programme", pid), programme_id=pid)

`who` is the `StaffSession` of the person (from `shared.staff.require`), `ADMIN_TOKEN` for a
machine-to-machine call, or `SYSTEM` for the platform itself. Details are ids, counts and short
words (at most 20, each at most 200 characters): never names of pupils, their codes, ages or
consent, nor anyone's contact details. Actions are `<thing>.<what happened>` in English
(`programme.closed`, `import.completed`, `placement.moved`, `allocation.published`,
`pupil.erased`, `staff.role_changed`, `export.downloaded`); registration's messages name them in Dutch.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import AuditDetail, AuditRecorded
from shared.outbox import Outbox
from shared.staff import StaffSession

ADMIN_TOKEN = "admin_token"
SYSTEM = "system"
MAX_DETAILS = 20
MAX_TEXT = 200
Who = StaffSession | str | None


def entry(
    service: str, who: Who, action: str, *, subject: tuple[str, str] | None = None, programme_id: str | None = None, **details: AuditDetail
) -> AuditRecorded:
    if isinstance(who, StaffSession):
        actor = {"actor_kind": "staff", "actor_id": who.account_id, "actor_role": str(who.role)}
    elif who == ADMIN_TOKEN:
        actor = {"actor_kind": "admin_token"}
    else:
        actor = {"actor_kind": "system"}
    if len(details) > MAX_DETAILS:
        raise ValueError(f"an audit entry has at most {MAX_DETAILS} details")
    cleaned = {k: (v[:MAX_TEXT] if isinstance(v, str) else v) for k, v in details.items()}
    return AuditRecorded(
        service=service,
        action=action,
        subject_type=subject[0] if subject else None,
        subject_id=str(subject[1]) if subject else None,
        programme_id=programme_id,
        details=cleaned,
        at=datetime.now(UTC),
        **actor,
    )


async def record(session: AsyncSession, outbox: Outbox, who: Who, action: str, **kw) -> AuditRecorded:
    """Add an audit entry to the caller's transaction (AsyncSession)."""
    data = entry(outbox.service, who, action, **kw)
    await outbox.add(session, data, subject=data.subject_id)
    return data


def record_sync(conn: Connection, outbox: Outbox, who: Who, action: str, **kw) -> AuditRecorded:
    """Add an audit entry to the caller's transaction (a synchronous Connection, registration's commands)."""
    data = entry(outbox.service, who, action, **kw)
    outbox.add_sync(conn, data, subject=data.subject_id)
    return data
