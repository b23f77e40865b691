"""Dates and times as people read them: Dutch time (Europe/Amsterdam), in Dutch or English words.

Every page of every service shows moments through these, so "8 april 2027 om 09:30" means the same
everywhere; stored moments are UTC (a naive one, as SQLite hands it back, is UTC too).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_MOMENT = {"nl": "d MMMM y 'om' HH:mm", "en": "d MMMM y 'at' HH:mm"}
_SHORT = {"nl": "d MMM HH:mm", "en": "d MMM HH:mm"}


def local(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(AMSTERDAM)


def moment(value: datetime | str | None, lang: str = "nl", *, short: bool = False) -> str:
    """`8 april 2027 om 09:30` (`short`: `8 apr 09:30`); "–" for nothing."""
    if value is None or value == "":
        return "–"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    lang = lang if lang in _MOMENT else "nl"
    return format_datetime(local(when), (_SHORT if short else _MOMENT)[lang], locale=lang)


def day(value: date | str | None, lang: str = "nl") -> str:
    """`8 april 2027`."""
    if value is None or value == "":
        return "–"
    when = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return format_date(when, "d MMMM y", locale=lang if lang in _MOMENT else "nl")
