"""The errors of the service layer and the precise HTTP answers they become."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.registration.domain.errors import Invalid, RegistrationClosed, Violation


class NotFound(Exception):
    def __init__(self, what: str, ident: str):
        super().__init__(f"{what} {ident} not found")
        self.what, self.ident = what, ident


class Forbidden(Exception):
    """Authenticated, but this is someone else's data."""


class Conflict(Exception):
    def __init__(self, type_: str, message: str, **extra):
        super().__init__(message)
        self.type, self.message, self.extra = type_, message, extra


def loc(field: str) -> list:
    return ["body", *(int(p) if p.isdigit() else p for p in field.split("."))]


def violations_detail(violations: list[Violation]) -> list[dict]:
    return [{"type": v.rule, "loc": loc(v.field), "msg": v.message} for v in violations]


def closed_detail(e: RegistrationClosed) -> dict:
    return {
        "type": e.reason,
        "msg": f"registration is not possible: {e.reason.replace('_', ' ')}; the deadline is {e.deadline.isoformat()}",
        "deadline": e.deadline.isoformat(),
        "opens_at": e.opens_at.isoformat(),
    }


def answer(e: Exception) -> JSONResponse | None:
    """The precise answer to an error of the service layer (None: not one of ours)."""
    if isinstance(e, Invalid):
        return JSONResponse({"detail": violations_detail(e.violations)}, 422)
    if isinstance(e, RegistrationClosed):
        return JSONResponse({"detail": closed_detail(e)}, 409)
    if isinstance(e, Conflict):
        headers = {"Location": e.extra["existing"]["href"]} if "existing" in e.extra else None
        return JSONResponse({"detail": {"type": e.type, "msg": e.message, **e.extra}}, 409, headers=headers)
    if isinstance(e, NotFound):
        return JSONResponse({"detail": {"type": "not_found", "msg": str(e)}}, 404)
    if isinstance(e, Forbidden):
        return JSONResponse({"detail": {"type": "forbidden", "msg": "these credentials do not give access to this record"}}, 403)
    return None


def install(app: FastAPI) -> None:
    async def handle(_request: Request, e: Exception) -> JSONResponse:
        return answer(e)

    for error in (Invalid, RegistrationClosed, Conflict, NotFound, Forbidden):
        app.add_exception_handler(error, handle)
