"""Rules for VHTO's staff accounts: who may be an account, what a password must be, and when
login attempts are throttled. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.staff import Role

from . import identifiers as ids
from .errors import Violation

PASSWORD_MIN = 12  # length over composition rules (NCSC / NIST SP 800-63B)
PASSWORD_MAX = 256
FAILURES_PER_ACCOUNT = 5  # failed logins for one e-mail address ...
FAILURES_PER_ADDRESS = 20  # ... or from one network address ...
THROTTLE_WINDOW = timedelta(minutes=15)  # ... within this window lock further attempts until it has passed
INVITATION_VALID = timedelta(days=7)


@dataclass
class StaffAccount:
    name: str
    email: str
    role: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def validate_account(a: StaffAccount) -> list[Violation]:
    """Validate and normalise in place."""
    out: list[Violation] = []
    a.name = " ".join(a.name.split())
    if not a.name:
        out.append(Violation("name", "required", "name must not be empty"))
    elif len(a.name) > 200:
        out.append(Violation("name", "too_long", "at most 200 characters"))
    a.email = normalise_email(ids.check("email", ids.email, a.email, out))
    if a.role not in tuple(Role):
        out.append(Violation("role", "role_unknown", "one of kijker, medewerker, beheerder"))
    return out


def validate_password(password: str, again: str | None = None, *, email: str = "") -> list[Violation]:
    out: list[Violation] = []
    if len(password) < PASSWORD_MIN:
        out.append(Violation("password", "password_too_short", f"at least {PASSWORD_MIN} characters"))
    elif len(password) > PASSWORD_MAX:
        out.append(Violation("password", "too_long", f"at most {PASSWORD_MAX} characters"))
    elif email and password.strip().lower() == email.lower():
        out.append(Violation("password", "password_is_email", "must not be the e-mail address"))
    if again is not None and again != password:
        out.append(Violation("password_again", "password_mismatch", "the two passwords differ"))
    return out


def locked_until(failures_for_account: list[datetime], failures_from_address: list[datetime], now: datetime) -> datetime | None:
    """When the next attempt may be made, if attempts are locked now (failures: times within the window)."""
    recent_account = sorted(t for t in failures_for_account if now - t < THROTTLE_WINDOW)
    recent_address = sorted(t for t in failures_from_address if now - t < THROTTLE_WINDOW)
    until = []
    if len(recent_account) >= FAILURES_PER_ACCOUNT:
        until.append(recent_account[-FAILURES_PER_ACCOUNT] + THROTTLE_WINDOW)
    if len(recent_address) >= FAILURES_PER_ADDRESS:
        until.append(recent_address[-FAILURES_PER_ADDRESS] + THROTTLE_WINDOW)
    return max(until) if until else None
