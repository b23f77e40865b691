"""The errors of the service layer and the problem details (RFC 9457, `shared/problems.py`) they become."""

from __future__ import annotations

from fastapi import FastAPI

from services.registration.domain.errors import Invalid, RegistrationClosed, Violation
from shared import problems
from shared.problems import FieldError, Problem


class NotFound(Exception):
    def __init__(self, what: str, ident: str):
        super().__init__(f"{what} {ident} not found")
        self.what, self.ident = what, ident


class Forbidden(Exception):
    """Authenticated, but this is someone else's data."""


class Conflict(Exception):
    """The request cannot be done in the record's current state: `type` names why, `extra` the
    members that help the client (`existing`: the record that is already there)."""

    def __init__(self, type_: str, message: str, **extra):
        super().__init__(message)
        self.type, self.message, self.extra = type_, message, extra


def field_errors(violations: list[Violation]) -> list[FieldError]:
    return [FieldError("body", v.field, v.rule, v.message) for v in violations]


def problem(e: Exception) -> Problem | None:
    """The problem an error of the service layer is answered with (None: not one of ours)."""
    if isinstance(e, Problem):
        return e
    if isinstance(e, Invalid):
        return problems.invalid(field_errors(e.violations))
    if isinstance(e, RegistrationClosed):
        return Problem(
            409,
            e.reason,
            f"registration is not possible: {e.reason.replace('_', ' ')}; registration is open from "
            f"{e.opens_at:%Y-%m-%d %H:%M} until the deadline {e.deadline:%Y-%m-%d %H:%M} (Dutch time, Europe/Amsterdam)",
            deadline=e.deadline.isoformat(),
            opens_at=e.opens_at.isoformat(),
        )
    if isinstance(e, Conflict):
        headers = {"Location": e.extra["existing"]["href"]} if "existing" in e.extra else None
        return Problem(409, e.type, e.message, headers=headers, **e.extra)
    if isinstance(e, NotFound):
        return Problem(404, "not_found", str(e))
    if isinstance(e, Forbidden):
        return Problem(403, "forbidden", "these credentials do not give access to this record")
    return None


def install(app: FastAPI) -> None:
    problems.translate(app, {error: problem for error in (Invalid, RegistrationClosed, Conflict, NotFound, Forbidden)})
