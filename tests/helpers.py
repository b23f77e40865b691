"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import socket


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Await `check()` until it returns something truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


def free_port() -> int:
    """A TCP port nobody listens on right now (for servers a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def staff_token(settings, role: str = "beheerder", *, account_id: str = "staff-test", name: str = "Test Medewerker") -> tuple[str, str]:
    """A signed staff session (as registration issues it) for tests of any service: (cookie value, CSRF token).

    Use it as `client.cookies.set("gd_staff", token)` and send the CSRF token with every change
    (form field `_csrf` or header `X-CSRF-Token`). Its login is not known to registration, so it
    cannot be renewed: enough for a test, which never runs for `REFRESH_AFTER_S`."""
    from shared.staff import Role, SessionSigner

    signer = SessionSigner.from_settings(settings)
    token = signer.sign(account_id=account_id, name=name, role=Role(role), login_id=f"login-{account_id}")
    return token, signer.verify(token).csrf


def as_staff(client, settings, role: str = "beheerder", **kw) -> str:
    """Give an httpx client a staff session of `role`; returns its CSRF token."""
    token, csrf = staff_token(settings, role, **kw)
    client.cookies.set("gd_staff", token)
    return csrf
