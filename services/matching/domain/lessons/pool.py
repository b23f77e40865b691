"""The role models as arrays (who may give which lesson when, vectorised) and the ledger of who is on
which lesson on which date. Shared by the engine, backfill and the bound."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date

import numpy as np

from ..model import haversine_km
from .model import Commitment, LessonRequest, RoleModel, school_term, school_year


class Pool:
    """Role models indexed 0..n-1, with what the eligibility rule reads as numpy arrays.

    ``eligible(request, d)`` is :func:`model.ineligibility` for every role model at once (the
    property tests check the two agree)."""

    def __init__(self, role_models: Sequence[RoleModel]):
        self.role_models = tuple(role_models)
        self.index: dict[str, int] = {}
        for i, rm in enumerate(self.role_models):
            if rm.id in self.index:
                raise ValueError(f"role model {rm.id!r} occurs twice")
            self.index[rm.id] = i
        n = len(self.role_models)
        self.lat = np.array([rm.lat for rm in self.role_models], dtype=float)
        self.lon = np.array([rm.lon for rm in self.role_models], dtype=float)
        self.max_km = np.array([rm.max_travel_km for rm in self.role_models], dtype=float)
        self.max_per_term = [rm.max_per_term for rm in self.role_models]
        self.fields = [rm.field for rm in self.role_models]
        self.sectors = [rm.sector for rm in self.role_models]
        self._weekday = np.zeros((n, 7), dtype=bool)
        owners, starts, ends = [], [], []
        self._blocked: dict[int, list[int]] = defaultdict(list)
        for i, rm in enumerate(self.role_models):
            av = rm.availability
            self._weekday[i, list(av.weekdays)] = True
            for lo, hi in av.ranges:
                owners.append(i)
                starts.append(lo.toordinal())
                ends.append(hi.toordinal())
            for d in av.blocked:
                self._blocked[d.toordinal()].append(i)
        self._owners = np.array(owners, dtype=np.int64)
        self._starts = np.array(starts, dtype=np.int64)
        self._ends = np.array(ends, dtype=np.int64)
        self._ranged = np.bincount(self._owners, minlength=n) > 0 if n else np.zeros(0, dtype=bool)
        self._masks: dict[tuple[str, str], np.ndarray] = {}
        self._available: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.role_models)

    def _mask(self, attr: str, value: str) -> np.ndarray:
        key = (attr, value)
        if key not in self._masks:
            self._masks[key] = np.array([value in getattr(rm, attr) for rm in self.role_models], dtype=bool)
        return self._masks[key]

    def available(self, d: date) -> np.ndarray:
        """Who is available on a date (weekday, ranges, blocked dates)."""
        o = d.toordinal()
        if o not in self._available:
            ok = self._weekday[:, d.weekday()].copy()
            inside = np.zeros(len(self), dtype=bool)
            hit = (self._starts <= o) & (o <= self._ends)
            inside[self._owners[hit]] = True
            ok &= inside | ~self._ranged
            ok[self._blocked.get(o, [])] = False
            self._available[o] = ok
        return self._available[o]

    def distances(self, request: LessonRequest) -> np.ndarray:
        return haversine_km(request.lat, request.lon, self.lat, self.lon)

    def suitable(self, request: LessonRequest, km: np.ndarray) -> np.ndarray:
        """Level, lesson type, language and travel fit (dates aside)."""
        ok = self._mask("levels", request.level) & self._mask("lesson_types", request.lesson_type) & (km <= self.max_km)
        if request.language is not None:
            ok &= self._mask("languages", request.language)
        return ok

    def eligible(self, request: LessonRequest, d: date, km: np.ndarray | None = None, suitable: np.ndarray | None = None) -> np.ndarray:
        """Indices of the role models who may give this lesson on this date, nearest first."""
        km = self.distances(request) if km is None else km
        suitable = self.suitable(request, km) if suitable is None else suitable
        idx = np.flatnonzero(suitable & self.available(d))
        return idx[np.argsort(km[idx], kind="stable")]


class Ledger:
    """Who is on which lesson when: one lesson a day, at most her maximum per term, her season load."""

    def __init__(self, pool: Pool, commitments: Iterable[Commitment] = (), term_of: Callable[[date], object] = school_term):
        self.pool = pool
        self.term_of = term_of
        self.cap = pool.max_per_term
        self.on_date: dict[tuple[int, date], str] = {}  # (role model, date) -> request id
        self.term_count: dict[tuple[int, object], int] = {}
        self.year_load: dict[tuple[int, int], int] = {}
        self.by_request: defaultdict[str, list[tuple[int, date]]] = defaultdict(list)
        self._terms: dict[date, object] = {}
        for c in commitments:
            if c.role_model_id not in pool.index:
                raise ValueError(f"commitment of unknown role model {c.role_model_id!r}")
            m = pool.index[c.role_model_id]
            if (m, c.date) in self.on_date:
                raise ValueError(f"role model {c.role_model_id!r} has two lessons on {c.date}")
            self.add(m, c.request_id, c.date)

    def term(self, d: date):
        t = self._terms.get(d)
        if t is None:
            t = self._terms[d] = self.term_of(d)
        return t

    def free(self, m: int, d: date) -> bool:
        """She has no lesson that day and room under her maximum for the term."""
        if (m, d) in self.on_date:
            return False
        t = self._terms.get(d)
        if t is None:
            t = self.term(d)
        return self.term_count.get((m, t), 0) < self.cap[m]

    def busy_on(self, m: int, d: date) -> str | None:
        return self.on_date.get((m, d))

    def load(self, m: int, d: date) -> int:
        """Her lessons in the school year of d."""
        return self.year_load.get((m, school_year(d)), 0)

    def add(self, m: int, request_id: str, d: date) -> None:
        self.on_date[(m, d)] = request_id
        key = (m, self.term(d))
        self.term_count[key] = self.term_count.get(key, 0) + 1
        year = (m, school_year(d))
        self.year_load[year] = self.year_load.get(year, 0) + 1
        self.by_request[request_id].append((m, d))

    def remove(self, m: int, request_id: str, d: date) -> None:
        del self.on_date[(m, d)]
        self.term_count[(m, self.term(d))] -= 1
        self.year_load[(m, school_year(d))] -= 1
        self.by_request[request_id].remove((m, d))
