"""Programmes (a Girls' Day edition, an energy-transition activity) and their registration window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from .errors import RegistrationClosed, Violation

AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # every date and time people enter or see is Dutch time

KINDS = ("girls_day", "energy_transition")
MODES = ("groups", "individual")
STATUSES = ("draft", "open", "closed")


@dataclass
class Programme:
    kind: str
    name: str
    event_date: date
    opens_at: datetime
    closes_at: datetime  # the registration deadline
    allocation_mode: str = "groups"
    min_group_size: int = 10
    max_group_size: int | None = None
    min_age: int = 10
    max_age: int = 15
    target_pupils: int = 0
    target_schools: int = 0
    target_companies: int = 0
    status: str = "draft"
    id: str | None = None


def defaults_for(kind: str) -> dict:
    """Girls' Day groups have at least 10 girls aged 10-15; energy-transition activities take individuals."""
    if kind == "energy_transition":
        return {"allocation_mode": "individual", "min_group_size": 1, "min_age": 10, "max_age": 18}
    return {"allocation_mode": "groups", "min_group_size": 10, "min_age": 10, "max_age": 15}


def _aware(t: datetime) -> datetime:
    """A stored moment (SQLite hands them back without their zone: stored moments are UTC)."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def entered(t: datetime) -> datetime:
    """A moment as someone entered it, in UTC: its offset kept; without one it is Dutch time."""
    return (t if t.tzinfo else t.replace(tzinfo=AMSTERDAM)).astimezone(UTC)


def validate_programme(p: Programme) -> list[Violation]:
    out: list[Violation] = []
    if p.kind not in KINDS:
        out.append(Violation("kind", "kind_unknown", f"kind must be one of {', '.join(KINDS)}"))
    if p.allocation_mode not in MODES:
        out.append(Violation("allocation_mode", "mode_unknown", f"allocation mode must be one of {', '.join(MODES)}"))
    if not p.name.strip():
        out.append(Violation("name", "required", "name must not be empty"))
    if _aware(p.opens_at) >= _aware(p.closes_at):
        out.append(Violation("closes_at", "window_order", "registration must close after it opens"))
    if _aware(p.closes_at).astimezone(AMSTERDAM).date() > p.event_date:
        out.append(Violation("closes_at", "deadline_after_event", "registration must close on or before the event date"))
    if p.min_group_size < 1:
        out.append(Violation("min_group_size", "min_group_size_positive", "minimum group size must be at least 1"))
    if p.max_group_size is not None and p.max_group_size < p.min_group_size:
        out.append(Violation("max_group_size", "max_below_min", "maximum group size must be at least the minimum"))
    if p.min_age > p.max_age:
        out.append(Violation("max_age", "age_range_order", "maximum age must be at least the minimum age"))
    for name in ("target_pupils", "target_schools", "target_companies"):
        if getattr(p, name) < 0:
            out.append(Violation(name, "target_not_negative", "targets must be 0 or more"))
    return out


def check_window(p: Programme, now: datetime) -> None:
    """Registrations, edits and withdrawals are accepted only while the programme is open; the
    refusal gives the window in Dutch time."""
    opens, closes = _aware(p.opens_at).astimezone(AMSTERDAM), _aware(p.closes_at).astimezone(AMSTERDAM)
    now = _aware(now)
    if p.status == "closed":
        raise RegistrationClosed("programme_closed", opens, closes)
    if p.status != "open" or now < opens:
        raise RegistrationClosed("not_open_yet", opens, closes)
    if now >= closes:
        raise RegistrationClosed("deadline_passed", opens, closes)


def transition(p: Programme, to: str) -> list[Violation]:
    """draft -> open -> closed; opening twice or reopening a closed programme is refused."""
    allowed = {("draft", "open"), ("open", "closed")}
    if (p.status, to) not in allowed:
        return [Violation("status", "status_transition", f"cannot go from {p.status} to {to}")]
    return []
