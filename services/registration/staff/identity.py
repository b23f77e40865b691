"""How a staff member proves who she is: local accounts (e-mail + password) by default.

This is the seam for an organisation's own identity provider. Set `GIRLSDAY_STAFF_IDENTITY=oidc`
(with `GIRLSDAY_STAFF_OIDC_ISSUER` and `..._CLIENT_ID`) and a provider with the same two steps
replaces the password form: `login_redirect` sends the browser to the provider, and its callback
maps the verified `email` claim to an active staff account and calls `pages.open_session`, exactly
as the password login does. Roles stay with the staff accounts here (beheerders assign them), so
the rest of the platform — the session token, every service's `shared.staff.require` — is the
same whichever provider is configured. No OIDC provider ships yet: configuring one without it
stops start-up with a clear message rather than falling back to passwords silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.registration.staff import accounts
from services.registration.tx import read, write
from shared.settings import Settings


@dataclass(frozen=True)
class LocalAccounts:
    """E-mail and password, checked against the argon2id hash; attempts throttled."""

    kind: str = "local"
    uses_password_form: bool = True

    async def authenticate(self, runtime, email: str, password: str, address: str):
        """The account row, or LoginFailed (with `locked_until` while attempts are throttled)."""
        locked = await read(runtime, lambda conn: accounts.throttled_until(conn, email, address))
        if locked:
            raise accounts.LoginFailed(locked)
        row = await read(runtime, lambda conn: accounts.account_by_email(conn, email))
        usable = row is not None and row.active and row.password_hash
        if not await accounts.password_matches(row.password_hash if usable else None, password):
            until = await write(runtime, lambda conn: accounts.record_failure(conn, email, address))
            raise accounts.LoginFailed(until)
        return row


def provider(settings: Settings) -> LocalAccounts:
    if settings.staff_identity == "oidc":
        raise RuntimeError(
            "GIRLSDAY_STAFF_IDENTITY=oidc: no OIDC provider is built into this version yet; "
            "see services/registration/staff/identity.py for the seam, or use 'local'"
        )
    return LocalAccounts()
