"""Staff accounts, logins and their throttle: the service layer (plain functions of a `Connection`,
run by `tx.write` / `tx.read`), plus the password hashing that runs off the event loop.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile). A
hash costs tens of milliseconds of CPU, so it never runs inside a transaction: callers hash or
verify with `await hash_password(...)` / `await password_matches(...)` (a worker thread) first.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, select, update

from services.registration.domain import staff as rules
from services.registration.domain.errors import Invalid, Violation, raise_if_any
from services.registration.errors import NotFound
from services.registration.store import staff_accounts, staff_login_failures, staff_logins
from shared.staff import Role

_hasher = PasswordHasher()


def now() -> datetime:
    return datetime.now(UTC)


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def password_matches(stored_hash: str | None, password: str) -> bool:
    """Verify off the event loop; an unknown account costs the same time as a known one."""

    def verify() -> bool:
        try:
            return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


class LoginFailed(Exception):
    def __init__(self, locked_until: datetime | None = None) -> None:
        super().__init__("login failed")
        self.locked_until = locked_until


# --- accounts -------------------------------------------------------------------------------


def account_by_email(conn: Connection, email: str):
    return conn.execute(select(staff_accounts).where(staff_accounts.c.email == rules.normalise_email(email))).first()


def account_by_id(conn: Connection, account_id: str):
    row = conn.execute(select(staff_accounts).where(staff_accounts.c.id == account_id)).first()
    if row is None:
        raise NotFound("staff account", account_id)
    return row


def list_accounts(conn: Connection) -> list:
    return list(conn.execute(select(staff_accounts).order_by(staff_accounts.c.active.desc(), staff_accounts.c.name)))


def count_beheerders(conn: Connection) -> int:
    query = select(func.count()).select_from(staff_accounts).where(staff_accounts.c.role == Role.beheerder, staff_accounts.c.active)
    return conn.execute(query).scalar_one()


def create_account(conn: Connection, account: rules.StaffAccount, *, password_hash: str | None = None, invite: bool = False):
    """A new account, with a password hash (CLI, demo) or an invitation (returns its one-time token)."""
    raise_if_any(rules.validate_account(account))
    if account_by_email(conn, account.email) is not None:
        raise Invalid([Violation("email", "staff_email_taken", "an account with this e-mail address exists")])
    token = secrets.token_urlsafe(32) if invite else None
    at = now()
    account_id = str(uuid.uuid4())
    conn.execute(
        insert(staff_accounts).values(
            id=account_id,
            email=account.email,
            name=account.name,
            role=account.role,
            password_hash=password_hash,
            active=True,
            invitation_hash=_token_hash(token) if token else None,
            invitation_expires_at=at + rules.INVITATION_VALID if token else None,
            created_at=at,
            updated_at=at,
        )
    )
    return account_by_id(conn, account_id), token


def set_password_hash(conn: Connection, account_id: str, password_hash: str) -> None:
    conn.execute(update(staff_accounts).where(staff_accounts.c.id == account_id).values(password_hash=password_hash, updated_at=now()))


def reinvite(conn: Connection, account_id: str) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(
        update(staff_accounts)
        .where(staff_accounts.c.id == account_id)
        .values(invitation_hash=_token_hash(token), invitation_expires_at=now() + rules.INVITATION_VALID, updated_at=now())
    )
    return token


def invitation(conn: Connection, token: str):
    """The account an invitation token belongs to, if the invitation is still valid."""
    row = conn.execute(select(staff_accounts).where(staff_accounts.c.invitation_hash == _token_hash(token))).first()
    if row is None or not row.active or _aware(row.invitation_expires_at) < now():
        return None
    return row


def accept_invitation(conn: Connection, token: str, password_hash: str):
    row = invitation(conn, token)
    if row is None:
        return None
    conn.execute(
        update(staff_accounts)
        .where(staff_accounts.c.id == row.id)
        .values(password_hash=password_hash, invitation_hash=None, invitation_expires_at=None, updated_at=now())
    )
    return row


def change_role(conn: Connection, actor_id: str, account_id: str, role: str):
    row = account_by_id(conn, account_id)
    if role not in tuple(Role):
        raise Invalid([Violation("role", "role_unknown", "one of kijker, medewerker, beheerder")])
    if row.role == Role.beheerder and role != Role.beheerder and row.active and count_beheerders(conn) <= 1:
        raise Invalid([Violation("role", "last_beheerder", "the last beheerder cannot lose the role")])
    conn.execute(update(staff_accounts).where(staff_accounts.c.id == account_id).values(role=role, updated_at=now()))
    return row


def set_active(conn: Connection, actor_id: str, account_id: str, active: bool):
    row = account_by_id(conn, account_id)
    if not active:
        if account_id == actor_id:
            raise Invalid([Violation("active", "not_yourself", "you cannot deactivate your own account")])
        if row.role == Role.beheerder and row.active and count_beheerders(conn) <= 1:
            raise Invalid([Violation("active", "last_beheerder", "the last beheerder cannot be deactivated")])
        end_logins_of(conn, account_id)
    conn.execute(update(staff_accounts).where(staff_accounts.c.id == account_id).values(active=active, updated_at=now()))
    return row


# --- logins and their throttle ------------------------------------------------------------------


def throttled_until(conn: Connection, email: str, address: str) -> datetime | None:
    at = now()
    since = at - rules.THROTTLE_WINDOW
    by_email = conn.execute(
        select(staff_login_failures.c.at).where(
            staff_login_failures.c.email == rules.normalise_email(email), staff_login_failures.c.at > since
        )
    )
    by_address = conn.execute(
        select(staff_login_failures.c.at).where(staff_login_failures.c.address == address, staff_login_failures.c.at > since)
    )
    return rules.locked_until([_aware(r.at) for r in by_email], [_aware(r.at) for r in by_address], at)


def record_failure(conn: Connection, email: str, address: str) -> datetime | None:
    conn.execute(insert(staff_login_failures).values(email=rules.normalise_email(email)[:254], address=address[:64], at=now()))
    return throttled_until(conn, email, address)


def start_login(conn: Connection, account_id: str, email: str, *, rehashed: str | None = None) -> str:
    """A successful login: its row, the account's last login, and the failures of this address forgotten."""
    at = now()
    login_id = str(uuid.uuid4())
    conn.execute(insert(staff_logins).values(id=login_id, account_id=account_id, started_at=at, renewed_at=at))
    values = {"last_login_at": at, **({"password_hash": rehashed} if rehashed else {})}
    conn.execute(update(staff_accounts).where(staff_accounts.c.id == account_id).values(**values))
    conn.execute(delete(staff_login_failures).where(staff_login_failures.c.email == rules.normalise_email(email)))
    return login_id


def renewable(conn: Connection, login_id: str):
    """The account of a login that has not ended, if the account is still active (its current role)."""
    row = conn.execute(
        select(staff_accounts, staff_logins.c.ended_at)
        .join(staff_logins, staff_logins.c.account_id == staff_accounts.c.id)
        .where(staff_logins.c.id == login_id)
    ).first()
    if row is None or row.ended_at is not None or not row.active:
        return None
    conn.execute(update(staff_logins).where(staff_logins.c.id == login_id).values(renewed_at=now()))
    return row


def end_login(conn: Connection, login_id: str) -> None:
    conn.execute(update(staff_logins).where(staff_logins.c.id == login_id, staff_logins.c.ended_at.is_(None)).values(ended_at=now()))


def end_logins_of(conn: Connection, account_id: str) -> None:
    conn.execute(
        update(staff_logins).where(staff_logins.c.account_id == account_id, staff_logins.c.ended_at.is_(None)).values(ended_at=now())
    )


def forget_old_failures(conn: Connection) -> int:
    return conn.execute(delete(staff_login_failures).where(staff_login_failures.c.at < now() - rules.THROTTLE_WINDOW)).rowcount


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
