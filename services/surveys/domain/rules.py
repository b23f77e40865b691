"""Rules of the surveys service: tokens, consent, phase windows, response rates, reminders."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CONSENT_AGE = 16  # UAVG art. 5: under 16 a parent consents
TOKEN_BYTES = 24  # 192 bits of randomness, well above the 128 the issue asks for


def new_token() -> str:
    """An unguessable pseudonymous survey token (URL-safe, 32 characters, 192 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def may_store_response(age: int | None, parental_consent: bool) -> bool:
    """A pupil under 16 (or of unknown age) needs a recorded parental consent before we store anything."""
    if age is not None and age >= CONSENT_AGE:
        return True
    return parental_consent


def start_of_day(day: date) -> datetime:
    """The moment a Dutch calendar day begins, in UTC terms (aware datetime)."""
    return datetime.combine(day, time.min, tzinfo=AMSTERDAM)


@dataclass(frozen=True)
class Window:
    opens: datetime
    closes: datetime

    def state(self, now: datetime) -> str:
        if now < self.opens:
            return "not_open"
        if now >= self.closes:
            return "closed"
        return "open"


@dataclass(frozen=True)
class WindowPolicy:
    """Defaults: pre closes when the event day starts; post closes three weeks after it.
    Either close may be overridden per programme."""

    post_close_days: int = 21

    def pre(self, placed_at: datetime, event_date: date, pre_closes: datetime | None = None) -> Window:
        return Window(opens=placed_at, closes=pre_closes or start_of_day(event_date))

    def post(self, event_date: date, post_closes: datetime | None = None) -> Window:
        opens = start_of_day(event_date)
        return Window(opens=opens, closes=post_closes or start_of_day(event_date + timedelta(days=self.post_close_days)))


def response_rate(responded: int, invited: int) -> float | None:
    if invited <= 0:
        return None
    return min(responded, invited) / invited


@dataclass(frozen=True)
class ReminderPolicy:
    threshold: float = 0.6  # remind while fewer than 60 % responded ...
    lead: timedelta = timedelta(days=3)  # ... within the last three days before the close

    def due(self, window: Window, now: datetime, responded: int, invited: int) -> bool:
        rate = response_rate(responded, invited)
        if rate is None or window.state(now) != "open":
            return False
        return now >= window.closes - self.lead and rate < self.threshold
