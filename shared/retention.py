"""Retention: when a programme's data about pupils expire (docs/privacy.md, "Retention").

Every service that keeps data about pupils deletes them `GIRLSDAY_PUPIL_DATA_RETENTION_DAYS`
after the programme's event date, in its own `retention.py`, run hourly by `runtime.every`. What
stays is what was never about a pupil: the groups with their pupil counts, placements of groups,
aggregated survey results.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

EVERY_S = 3600.0


def expired(event_date: date | str, now: datetime, retention_days: int) -> bool:
    """Whether a programme held on `event_date` has had its pupil data kept long enough at `now`."""
    day = date.fromisoformat(event_date) if isinstance(event_date, str) else event_date
    return day + timedelta(days=retention_days) < now.date()
