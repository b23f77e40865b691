"""Who may call a service: the one admin-token check of every service.

The admin token (`GIRLSDAY_ADMIN_TOKEN`) is for machine-to-machine calls (the importer, scripts,
partners' operators); people use the staff session (`shared/staff.py`). A route that only the
admin token may call depends on `admin`:

    router = APIRouter(prefix="/api", dependencies=[Depends(admin)])

Without a token, or with another one, the answer is 401 with `WWW-Authenticate: Bearer` as
problem details (`shared/problems.py`). Registration, which also knows schools' and companies'
account secrets, resolves tokens itself but asks `is_admin_token` the same question.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.problems import Problem
from shared.secrets import secret

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


def is_admin_token(settings, token: str | None) -> bool:
    """Whether `token` is the configured admin token (compared in constant time)."""
    return token is not None and hmac.compare_digest(token.encode(), secret(settings, "admin_token").encode())


def unauthorised(detail: str) -> Problem:
    return Problem(401, "unauthorised", detail, headers={"WWW-Authenticate": "Bearer"})


async def admin(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """FastAPI dependency: the request carries the admin token, or it is answered with 401."""
    if credentials is None:
        raise unauthorised("credentials required: Authorization: Bearer <admin token>")
    if not is_admin_token(request.app.state.runtime.settings, credentials.credentials):
        raise unauthorised("this token is not the admin token")
