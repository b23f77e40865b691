"""Who is calling: the admin (token from configuration), a school or a company (account secret).

`Authorization: Bearer <token>`. Secrets are stored hashed; the hash -> account mapping never
changes, so it is cached per process.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, literal, select

from services.registration.domain.accounts import hash_secret
from services.registration.errors import Forbidden
from services.registration.store import companies, schools
from services.registration.tx import read
from shared.auth import is_admin_token, unauthorised

bearer = HTTPBearer(auto_error=False, description="the admin token, or a school's or company's account secret")


@dataclass(frozen=True)
class Principal:
    kind: str  # "admin" | "school" | "company"
    id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    def key(self) -> str:
        return f"{self.kind}:{self.id or ''}"


ANONYMOUS = Principal("anonymous")
# Schools and companies in one query (one round trip): whose secret is this?
ACCOUNT_BY_SECRET = (
    select(literal("school").label("kind"), schools.c.id)
    .where(schools.c.secret_hash == bindparam("digest"))
    .union_all(select(literal("company").label("kind"), companies.c.id).where(companies.c.secret_hash == bindparam("digest")))
)

_cache: dict[str, Principal] = {}


async def resolve(runtime, token: str | None) -> Principal | None:
    if not token:
        return None
    if is_admin_token(runtime.settings, token):
        return Principal("admin")
    digest = hash_secret(token)
    cache_key = f"{id(runtime)}:{digest}"
    if found := _cache.get(cache_key):
        return found

    def lookup(conn):
        return conn.execute(ACCOUNT_BY_SECRET, {"digest": digest}).first()

    found = await read(runtime, lookup)
    principal = Principal(found.kind, found.id) if found else None
    if principal:
        if len(_cache) > 100_000:
            _cache.clear()
        _cache[cache_key] = principal
    return principal


async def authenticated(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    if creds is None:
        raise unauthorised("credentials required: Authorization: Bearer <token>")
    principal = await resolve(request.app.state.runtime, creds.credentials)
    if principal is None:
        raise unauthorised("unknown token")
    return principal


async def optional(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    """Public endpoints (registering a school or company): credentials are not needed."""
    if creds is None:
        return ANONYMOUS
    return await resolve(request.app.state.runtime, creds.credentials) or ANONYMOUS


async def admin(principal: Principal = Depends(authenticated)) -> Principal:
    if not principal.is_admin:
        raise Forbidden()
    return principal


def owns(principal: Principal, kind: str, owner_id: str) -> None:
    """Admins see everything; a school or company only its own records."""
    if principal.is_admin or (principal.kind == kind and principal.id == owner_id):
        return
    raise Forbidden()
