"""Staff accounts from the command line: the first beheerder (`girlsday staff add`), and the
demo beheerder of `girlsday up --demo`. Works on registration's database directly (migrating it
first), so it needs no running service; the audit entry waits in the outbox for the relay."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import Connection

from services.registration.domain import staff as rules
from services.registration.domain.errors import Invalid, raise_if_any
from services.registration.staff import accounts
from shared import audit, db
from shared.outbox import Outbox
from shared.settings import Settings

DEMO_EMAIL = "demo.beheerder@vhto.example"
DEMO_NAME = "Demo Beheerder"


async def _run(settings: Settings, fn):
    from services.registration.store import metadata

    url = settings.database_url("registration")
    await db.migrate("registration", url)
    engine = db.create_engine(url)
    outbox = Outbox("registration", metadata.tables["outbox"])
    try:
        async with engine.connect() as conn, conn.begin():
            return await conn.run_sync(lambda sync: fn(sync, outbox))
    finally:
        await engine.dispose()


def add_account(settings: Settings, *, email: str, name: str, role: str, password: str) -> str:
    """Create an account with a password; its id. Raises Invalid (field -> rule) when it cannot."""
    return asyncio.run(create_account(settings, email=email, name=name, role=role, password=password))


async def create_account(settings: Settings, *, email: str, name: str, role: str, password: str, via: str = "cli") -> str:
    raise_if_any(rules.validate_password(password, email=email))
    password_hash = await accounts.hash_password(password)

    def create(conn: Connection, outbox: Outbox) -> str:
        row, _ = accounts.create_account(conn, rules.StaffAccount(name, email, role), password_hash=password_hash)
        audit.record_sync(conn, outbox, audit.SYSTEM, "staff.created", subject=("staff_account", row.id), role=row.role, via=via)
        return row.id

    return await _run(settings, create)


def demo_account(settings: Settings) -> tuple[str, str]:
    """The demo beheerder with a fresh password (created the first time): (e-mail, password)."""
    password = "-".join(secrets.token_urlsafe(4) for _ in range(4))
    password_hash = asyncio.run(accounts.hash_password(password))

    def ensure(conn: Connection, outbox: Outbox) -> None:
        row = accounts.account_by_email(conn, DEMO_EMAIL)
        if row is None:
            row, _ = accounts.create_account(conn, rules.StaffAccount(DEMO_NAME, DEMO_EMAIL, "beheerder"), password_hash=password_hash)
            audit.record_sync(conn, outbox, audit.SYSTEM, "staff.created", subject=("staff_account", row.id), role="beheerder", via="demo")
        else:
            accounts.set_password_hash(conn, row.id, password_hash)
            accounts.set_active(conn, "", row.id, True)

    asyncio.run(_run(settings, ensure))
    return DEMO_EMAIL, password


__all__ = ["DEMO_EMAIL", "Invalid", "add_account", "create_account", "demo_account"]
