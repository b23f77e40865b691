from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Violation:
    """One broken rule: `field` is a dotted path (`preferences.activities.2`), `rule` a stable code."""

    field: str
    rule: str
    message: str


class Invalid(Exception):
    def __init__(self, violations: list[Violation]):
        super().__init__("; ".join(f"{v.field}: {v.message}" for v in violations))
        self.violations = violations


class RegistrationClosed(Exception):
    """Registration or change attempted outside the programme's window (answered with 409)."""

    def __init__(self, reason: str, opens_at: datetime, deadline: datetime):
        super().__init__(f"registration {reason}: window {opens_at.isoformat()} .. {deadline.isoformat()}")
        self.reason = reason  # "not_open_yet" | "deadline_passed" | "programme_closed"
        self.opens_at = opens_at
        self.deadline = deadline


def raise_if_any(violations: list[Violation]) -> None:
    if violations:
        raise Invalid(violations)
