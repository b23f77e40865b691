"""Seeded synthetic guest-lesson seasons: role models and lesson requests at real Dutch postcodes
(``shared.geo``), with the availability working women give (one to five weekdays, a few months or
the whole year, blocked dates) for the benchmark, the command line and tests.

``season(seed)`` is VHTO's scale: about 2,000 registered role models, 600 requests in a school year
in the proportions of the 2024 targets (Beeldenbrekers lessons 140, workshops 23; Dit Doe Ik lessons
120, workshops 17), a Beeldenbrekers lesson needing two role models and a third of them naming one
(a mother at her own child's school).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from services.matching.domain.lessons import Availability, LessonRequest, RoleModel
from shared import geo

# type -> (level, role models needed, share of requests)
LESSON_TYPES = {
    "beeldenbrekers_lesson": ("po", 2, 140 / 300),
    "beeldenbrekers_workshop": ("po", 1, 23 / 300),
    "dit_doe_ik_lesson": ("vo", 1, 120 / 300),
    "dit_doe_ik_workshop": ("vo", 1, 17 / 300),
}
FIELDS = ("ict", "civil engineering", "mechanical engineering", "chemistry", "physics", "biology and health",
          "mathematics and data", "electrical engineering", "aerospace", "energy")  # fmt: skip
SECTORS = ("tech industry", "construction", "energy", "health", "government", "research", "finance", "transport")


def _holidays(year: int) -> list[tuple[date, date]]:
    """School holidays (region midden, approximately) of the school year starting in August ``year``."""
    return [
        (date(year, 10, 18), date(year, 10, 26)),
        (date(year, 12, 20), date(year + 1, 1, 4)),
        (date(year + 1, 2, 14), date(year + 1, 2, 22)),
        (date(year + 1, 4, 25), date(year + 1, 5, 10)),
        (date(year + 1, 5, 14), date(year + 1, 5, 15)),
        (date(year + 1, 5, 25), date(year + 1, 5, 25)),
    ]


def school_days(year: int) -> list[date]:
    """Lesson days of a school year: 1 September .. 10 July, weekdays outside the holidays."""
    days, d, end = [], date(year, 9, 1), date(year + 1, 7, 10)
    holidays = _holidays(year)
    while d <= end:
        if d.weekday() < 5 and not any(lo <= d <= hi for lo, hi in holidays):
            days.append(d)
        d += timedelta(days=1)
    return days


@dataclass
class Season:
    year: int
    role_models: list[RoleModel]
    requests: list[LessonRequest]
    days: list[date]


def _places(rng: np.random.Generator, n: int) -> list[geo.Place]:
    codes = geo.known_postcodes()
    return [geo.locate(codes[i]) for i in rng.integers(0, len(codes), n)]


def _availability(rng: np.random.Generator, days: list[date], active: bool) -> Availability:
    first, last = days[0], days[-1]
    if not active:  # registered, but gives no lessons this year
        return Availability(ranges=((first - timedelta(days=400), first - timedelta(days=300)),))
    k = int(rng.choice([1, 2, 3, 5], p=[0.35, 0.25, 0.15, 0.25]))
    weekdays = frozenset(int(x) for x in rng.choice(5, k, replace=False))
    ranges: tuple[tuple[date, date], ...] = ()
    shape = rng.random()
    if shape > 0.55:
        spans = 1 if shape < 0.85 else 2
        out = []
        for _ in range(spans):
            start = first + timedelta(days=int(rng.integers(0, (last - first).days - 40)))
            out.append((start, min(last, start + timedelta(weeks=int(rng.integers(6, 21))))))
        ranges = tuple(sorted(out))
    blocked = frozenset(days[int(i)] for i in rng.integers(0, len(days), int(rng.integers(0, 5))))
    return Availability(weekdays, ranges, blocked)


def season(seed: int = 0, role_models: int = 2000, requests: int = 600, year: int = 2025, active_share: float = 0.75,
           named_share: float = 0.33, sector_wish_share: float = 0.2) -> Season:  # fmt: skip
    rng = np.random.default_rng(seed)
    days = school_days(year)
    people: list[RoleModel] = []
    for i, place in enumerate(_places(rng, role_models)):
        levels = [("po",), ("vo",), ("po", "vo")][int(rng.choice(3, p=[0.3, 0.45, 0.25]))]
        types = set()
        if "po" in levels:
            types.add("beeldenbrekers_lesson")
            if rng.random() < 0.3:
                types.add("beeldenbrekers_workshop")
        if "vo" in levels:
            types.add("dit_doe_ik_lesson")
            if rng.random() < 0.25:
                types.add("dit_doe_ik_workshop")
        people.append(RoleModel(
            f"R{i:05d}", place.lat, place.lon,
            float(rng.choice([10, 15, 20, 25, 30, 40, 50, 60], p=[0.08, 0.12, 0.18, 0.17, 0.18, 0.12, 0.1, 0.05])),
            frozenset(levels), frozenset(types), _availability(rng, days, rng.random() < active_share),
            int(rng.choice([1, 2, 3, 4], p=[0.55, 0.3, 0.1, 0.05])), str(rng.choice(FIELDS)), str(rng.choice(SECTORS)),
            frozenset({"nl", "en"}) if rng.random() < 0.4 else frozenset({"nl"}),
        ))  # fmt: skip
    names = list(LESSON_TYPES)
    shares = np.array([LESSON_TYPES[t][2] for t in names])
    out: list[LessonRequest] = []
    places = _places(rng, requests)
    mothers = [i for i, p in enumerate(people) if "beeldenbrekers_lesson" in p.lesson_types]
    named_used: set[int] = set()
    for i in range(requests):
        kind = names[int(rng.choice(len(names), p=shares / shares.sum()))]
        level, needed, _ = LESSON_TYPES[kind]
        centre = days[int(rng.integers(0, len(days) - 15))]
        window = [d for d in days if centre <= d <= centre + timedelta(days=21)]
        options = tuple(sorted(window[int(j)] for j in rng.choice(len(window), min(len(window), int(rng.choice([2, 3]))), replace=False)))
        lat, lon, fixed = places[i].lat, places[i].lon, ()
        if kind == "beeldenbrekers_lesson" and rng.random() < named_share:
            m = mothers[int(rng.integers(0, len(mothers)))]
            if m not in named_used:  # her own child's school, on dates she can do
                named_used.add(m)
                mom = people[m]
                lat, lon = mom.lat + float(rng.normal(0, 0.01)), mom.lon + float(rng.normal(0, 0.015))
                ok = [d for d in days if mom.availability.allows(d)]
                if ok:
                    centre = ok[int(rng.integers(0, len(ok)))]
                    near = [d for d in days if abs((d - centre).days) <= 21 and d != centre]
                    extra = [near[int(j)] for j in rng.choice(len(near), min(len(near), int(rng.choice([1, 2]))), replace=False)]
                    options = tuple(sorted({centre, *extra}))
                    fixed = (mom.id,)
        sector = str(rng.choice(SECTORS)) if rng.random() < sector_wish_share else None
        out.append(LessonRequest(f"L{i:05d}", kind, level, lat, lon, options, needed, fixed, sector, None, f"S{i:05d}"))
    return Season(year, people, out, days)
