"""When to publish a programme's partner KPIs: on change, at most once every `interval` seconds.

Pure: the caller passes the clock. `offer` records the newest figures; `due` says which
programmes should be published now (changed since their last publication and quiet long enough).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class KpiThrottle:
    interval: float
    _published: dict[str, Any] = field(default_factory=dict)
    _published_at: dict[str, float] = field(default_factory=dict)
    _latest: dict[str, Any] = field(default_factory=dict)

    def offer(self, programme_id: str, figures: Any) -> None:
        self._latest[programme_id] = figures

    def due(self, now: float) -> dict[str, Any]:
        """The programmes to publish now, with their figures; marks them as published."""
        ready = {}
        for programme_id, figures in self._latest.items():
            if self._published.get(programme_id, _NEVER) == figures:
                continue
            last = self._published_at.get(programme_id)
            if last is None or now - last >= self.interval:
                ready[programme_id] = figures
        for programme_id, figures in ready.items():
            self._published[programme_id] = figures
            self._published_at[programme_id] = now
        return ready

    def wait_for(self, programme_id: str, now: float) -> float:
        """Seconds until this programme may be published again (0: now)."""
        last = self._published_at.get(programme_id)
        return 0.0 if last is None else max(0.0, last + self.interval - now)

    def next_due_in(self, now: float) -> float | None:
        """Seconds until a pending change becomes due (None when nothing is pending)."""
        waits = [
            max(0.0, self._published_at.get(p, now - self.interval) + self.interval - now)
            for p, figures in self._latest.items()
            if self._published.get(p, _NEVER) != figures
        ]
        return min(waits) if waits else None


_NEVER = object()
