"""Why a survey cannot be shown or answered, and the problem details (RFC 9457) that says so."""

from __future__ import annotations

from typing import Any

from shared import problems
from shared.problems import FieldError, Problem

from .domain.questionnaire import InvalidAnswers


class SurveyRefused(Exception):
    """`status` is the HTTP status, `code` the reason; `window` the phase's window where known."""

    def __init__(self, status: int, code: str, window: Any = None) -> None:
        super().__init__(code)
        self.status, self.code, self.window = status, code, window


REFUSALS = {
    "unknown_token": "no survey has this token",
    "already_responded": "this token has already been used; the first response stands",
    "phase_not_open": "this phase is not open yet",
    "phase_closed": "this phase has closed",
    "consent_required": "a pupil under 16 needs recorded parental consent; nothing was stored",
}


def refusal(exc: SurveyRefused) -> Problem:
    window = {}
    if exc.window is not None and exc.code in ("phase_not_open", "phase_closed"):
        window = {"opens": exc.window.opens.isoformat(), "closes": exc.window.closes.isoformat()}
    return Problem(exc.status, exc.code, REFUSALS[exc.code], **window)


def invalid_answers(exc: InvalidAnswers) -> Problem:
    """Every answer that is missing or out of range, by item (`answers.<item>`; `answers` for the whole)."""
    return problems.invalid(
        [FieldError("body", "answers" if p.item == "*" else f"answers.{p.item}", p.code, p.message("en")) for p in exc.problems],
        "some answers are missing or out of range",
    )
