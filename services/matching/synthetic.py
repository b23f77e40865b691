"""Seeded synthetic instances at Girls' Day scale (benchmarks, the command line, load tests).

Schools and companies sit at real Dutch postcodes (``shared.geo``), so distances and clustering are
realistic. ``scale=1`` is the national instance: 217 schools with 8,600 pupils, 265 companies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.matching.domain.model import Activity, Group, Pupil
from shared import geo

SLOTS = ("morning", "afternoon")


@dataclass
class Instance:
    groups: list[Group]
    activities: list[Activity]
    pupils: list[Pupil]


def _places(rng: np.random.Generator, n: int) -> list[geo.Place]:
    codes = geo.known_postcodes()
    return [geo.locate(codes[i]) for i in rng.integers(0, len(codes), n)]


def _split_total(rng: np.random.Generator, total: int, n: int, low: int) -> np.ndarray:
    """n positive integers >= low summing to total."""
    weights = rng.gamma(4.0, 1.0, n)
    extra = total - low * n
    parts = np.floor(weights / weights.sum() * extra).astype(np.int64)
    parts[: extra - parts.sum()] += 1
    return parts + low


def national(scale: int = 1, seed: int = 0, capacity_factor: float = 1.1, prefs: int = 3,
             pupil_prefs: int = 5, travel_km: tuple[int, int] = (30, 60), whole_share: float = 0.4) -> Instance:  # fmt: skip
    rng = np.random.default_rng(seed)
    n_schools, n_pupils, n_companies = 217 * scale, 8600 * scale, 265 * scale
    schools = _places(rng, n_schools)
    school_level = rng.choice(["po", "vo"], n_schools, p=[0.3, 0.7])
    per_school = _split_total(rng, n_pupils, n_schools, 10)
    companies = _places(rng, n_companies)

    raw_groups = []
    for s, (place, total) in enumerate(zip(schools, per_school)):
        n_groups = max(1, min(int(total) // 10, int(round(total / rng.uniform(10, 18)))))
        for k, size in enumerate(_split_total(rng, int(total), n_groups, 10)):
            raw_groups.append((s, k, place, int(size)))

    acts_per_company = rng.integers(1, 3, n_companies)
    n_acts = int(acts_per_company.sum())
    demand = n_pupils * capacity_factor
    act_cap = _split_total(rng, int(round(demand)), n_acts, 12)
    activities = []
    i = 0
    for c, (place, k) in enumerate(zip(companies, acts_per_company)):
        for j in range(int(k)):
            levels = [("po",), ("vo",), ("po", "vo")][int(rng.choice(3, p=[0.25, 0.55, 0.2]))]
            lo, hi = (10, 12) if levels == ("po",) else (12, 15) if levels == ("vo",) else (10, 15)
            activities.append(Activity(f"A{c:05d}-{j}", int(act_cap[i]), place.lat, place.lon,
                                       frozenset(levels), lo, hi, SLOTS[int(rng.integers(0, 2))], f"C{c:05d}"))  # fmt: skip
            i += 1
    alat = np.array([a.lat for a in activities])
    alon = np.array([a.lon for a in activities])

    groups, pupils = [], []
    for s, k, place, size in raw_groups:
        level = str(school_level[s])
        ages = (10, 12) if level == "po" else (12, 14)
        limit = float(rng.integers(*travel_km))
        d = np.sqrt(((alat - place.lat) * 111) ** 2 + ((alon - place.lon) * 68) ** 2)
        near = [j for j in np.argsort(d)[:40] if level in activities[j].levels and d[j] <= limit]
        prefs_g = tuple(activities[j].id for j in rng.permutation(near)[:prefs]) if near else ()
        slots = None if rng.random() < 0.7 else frozenset({SLOTS[int(rng.integers(0, 2))]})
        max_parts = 1 if rng.random() < whole_share else int(rng.integers(2, 4))
        gid = f"G{s:05d}-{k}"
        refs = tuple(f"{gid}-p{n}" for n in range(size))
        groups.append(Group(gid, size, place.lat, place.lon, level, ages[0], ages[1], slots, limit,
                            max_parts, 5 if max_parts > 1 else 1, prefs_g, f"S{s:05d}", refs))  # fmt: skip
        near_p = [activities[j].id for j in np.argsort(d)[:30] if level in activities[j].levels]
        for ref in refs:
            choice = rng.permutation(near_p)[:pupil_prefs] if near_p else []
            pupils.append(Pupil(ref, place.lat, place.lon, tuple(str(x) for x in choice), gid, f"S{s:05d}"))
    return Instance(groups, activities, pupils)
