"""One staff session across the four services.

Registration keeps the named staff accounts and signs a short-lived session token when a person
logs in (itsdangerous, HMAC-SHA256, keys from settings); every service verifies it with the
dependency `require(role)`. The token travels in the `gd_staff` cookie: cookies are not separated
by port, so one login on one host (or one domain behind an ingress) serves every service's pages.

- Roles: `kijker` reads, `medewerker` runs editions, `beheerder` does everything (staff accounts,
  erasure). `require(Role.medewerker)` admits medewerkers and beheerders.
- A token is valid for `staff_session_minutes` after it was signed. Page views renew it at
  registration (`/staff/renew`, which checks that the login and the account are still active and
  takes the account's current role) once it is older than `REFRESH_AFTER_S`; a login lasts at
  most `staff_session_max_hours`. Logging out ends the login at registration and clears the cookie.
- Every request that changes something carries the session's CSRF token (form field `_csrf`, or
  header `X-CSRF-Token`), and its `Origin`, when the browser sends one, must be one of the
  platform's own. The cookie is `HttpOnly`, `SameSite=Lax`, `Secure` behind HTTPS.
- Without a session a page redirects to the login (a form post gets the login page at once, with
  what was typed kept, see `LoginRequired`); the JSON API answers 401. A role too low: 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from shared.settings import SERVICES, Settings

COOKIE = "gd_staff"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
REFRESH_AFTER_S = 5 * 60  # page views renew a token older than this
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SALT = "girlsday.staff.session.v1"
_SCOPE_KEY = "girlsday.staff_session"


class Role(StrEnum):
    kijker = "kijker"
    medewerker = "medewerker"
    beheerder = "beheerder"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)


ROLE_ORDER = (Role.kijker, Role.medewerker, Role.beheerder)


@dataclass(frozen=True)
class StaffSession:
    """Who is logged in (from a verified token). `login_id` names the login at registration."""

    account_id: str
    name: str
    role: Role
    login_id: str
    csrf: str
    logged_in_at: float  # epoch seconds of the login (the password or identity-provider step)
    signed_at: float = 0.0  # epoch seconds the token was signed

    def can(self, role: Role) -> bool:
        return self.role.rank >= Role(role).rank

    def actor(self) -> dict:
        """How the audit log names this person (ids only: names live with the accounts)."""
        return {"kind": "staff", "id": self.account_id, "role": str(self.role)}


class LoginRequired(Exception):
    """No valid staff session. `expired`: there was one, and it ran out."""

    def __init__(self, *, expired: bool = False) -> None:
        super().__init__("staff login required")
        self.expired = expired


class RenewSession(Exception):
    """A page view with a token older than REFRESH_AFTER_S: renew at registration, then come back."""


class StaffForbidden(Exception):
    def __init__(self, needed: Role, session: StaffSession | None = None, *, reason: str = "role") -> None:
        super().__init__(f"needs role {needed}")
        self.needed, self.session, self.reason = needed, session, reason


@dataclass
class SessionSigner:
    """Signs and verifies staff session tokens. The first key signs; every key verifies (rotation)."""

    keys: list[str]
    ttl_s: int
    max_login_s: int
    _serializer: URLSafeTimedSerializer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # itsdangerous signs with the last key of the list and verifies with any of them
        self._serializer = URLSafeTimedSerializer(list(reversed(self.keys)), salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionSigner:
        from shared.secrets import secret

        old = [k.strip() for k in settings.staff_session_old_keys.split(",") if k.strip()]
        return cls(
            keys=[secret(settings, "staff_session_key"), *old],
            ttl_s=settings.staff_session_minutes * 60,
            max_login_s=settings.staff_session_max_hours * 3600,
        )

    def sign(
        self, *, account_id: str, name: str, role: Role, login_id: str, csrf: str | None = None, logged_in_at: float | None = None
    ) -> str:
        payload = {
            "a": account_id,
            "n": name,
            "r": str(Role(role)),
            "l": login_id,
            "c": csrf or secrets.token_urlsafe(24),
            "t": logged_in_at if logged_in_at is not None else time.time(),
        }
        return self._serializer.dumps(payload)

    def verify(self, token: str) -> StaffSession:
        """The session in a token; LoginRequired if it is forged, malformed or expired."""
        try:
            payload, signed = self._serializer.loads(token, max_age=self.ttl_s, return_timestamp=True)
        except SignatureExpired as exc:
            raise LoginRequired(expired=True) from exc
        except BadSignature as exc:
            raise LoginRequired() from exc
        try:
            session = StaffSession(
                account_id=str(payload["a"]),
                name=str(payload["n"]),
                role=Role(payload["r"]),
                login_id=str(payload["l"]),
                csrf=str(payload["c"]),
                logged_in_at=float(payload["t"]),
                signed_at=signed.timestamp(),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LoginRequired() from exc
        if time.time() - session.logged_in_at > self.max_login_s:
            raise LoginRequired(expired=True)
        return session


def signer(request: Request) -> SessionSigner:
    """The signer of this app (built once from the runtime's settings)."""
    state = request.app.state
    found = getattr(state, "staff_signer", None)
    if found is None:
        found = state.staff_signer = SessionSigner.from_settings(request.app.state.runtime.settings)
    return found


def current(request: Request) -> StaffSession | None:
    """The verified staff session of a request, or None (no cookie, forged, or expired)."""
    try:
        return session_of(request)
    except LoginRequired:
        return None


def session_of(request: Request) -> StaffSession:
    """The verified staff session of a request; LoginRequired when there is none."""
    # cached in the request's own scope (request.state may be the lifespan's state, shared by all requests)
    cached = request.scope.get(_SCOPE_KEY)
    if cached is not None:
        return cached
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginRequired()
    session = signer(request).verify(token)
    request.scope[_SCOPE_KEY] = session
    return session


def require(role: Role = Role.kijker, *, renew: bool = True):
    """A FastAPI dependency: the staff session of a person with at least `role`.

    Changes (POST, PUT, PATCH, DELETE) must carry the session's CSRF token and come from one of the
    platform's own origins. `renew=False` for endpoints that must not redirect (downloads
    fetched by scripts, JSON)."""
    needed = Role(role)

    async def dependency(request: Request) -> StaffSession:
        session = session_of(request)
        if request.method not in SAFE_METHODS:
            await check_csrf(request, session)
        elif renew and wants_page(request) and time.time() - session.signed_at > REFRESH_AFTER_S:
            raise RenewSession()
        if not session.can(needed):
            raise StaffForbidden(needed, session)
        return session

    return Depends(dependency)


def wants_page(request: Request) -> bool:
    """A browser navigation (not a script fetching JSON)."""
    mode = request.headers.get("sec-fetch-mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")


def platform_origins(settings: Settings) -> set[str]:
    origins = set()
    for service in SERVICES:
        parts = urlsplit(settings.public_url(service))
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def check_origin(request: Request) -> None:
    """A change must not come from another site: its Origin (if the browser sent one) is ours."""
    origin = request.headers.get("origin")
    if origin is None:  # older browsers, or a same-origin GET-like navigation: the CSRF token decides
        return
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin != own and origin not in platform_origins(request.app.state.runtime.settings):
        raise StaffForbidden(Role.kijker, reason="origin")


async def check_csrf(request: Request, session: StaffSession) -> None:
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise StaffForbidden(Role.kijker, session, reason="csrf")


def set_cookie(response, request: Request, token: str) -> None:
    settings: Settings = request.app.state.runtime.settings
    secure = request.url.scheme == "https" or settings.public_url("registration").startswith("https://")
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")


def clear_cookie(response) -> None:
    response.delete_cookie(COOKIE, path="/")


def login_url(settings: Settings, next_url: str | None = None, *, expired: bool = False) -> str:
    query = {}
    if next_url:
        query["next"] = next_url
    if expired:
        query["expired"] = "1"
    return f"{settings.public_url('registration')}/staff/login" + (f"?{urlencode(query)}" if query else "")


def renew_url(settings: Settings, next_url: str) -> str:
    return f"{settings.public_url('registration')}/staff/renew?{urlencode({'next': next_url})}"


def safe_next(settings: Settings, next_url: str | None, default: str = "/staff") -> str:
    """Where to go after logging in: a path, or a URL of one of the platform's services (never elsewhere)."""
    if not next_url:
        return default
    parts = urlsplit(next_url)
    if not parts.scheme and not parts.netloc and next_url.startswith("/") and not next_url.startswith("//") and "\\" not in next_url:
        return next_url
    if f"{parts.scheme}://{parts.netloc}" in platform_origins(settings):
        return next_url
    return default
