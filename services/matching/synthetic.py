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
# Sectors as registration names them, with their share of the activities companies offer and of
# the sectors schools rank (a guess at Girls' Day reality: many engineering and ICT offers; ICT,
# healthcare technology and design asked for more than they are offered).
SUPPLY = {"engineering": 0.20, "ict": 0.17, "manufacturing": 0.10, "energy": 0.09, "science": 0.09,
          "construction": 0.07, "healthcare_technology": 0.06, "logistics": 0.04, "mobility": 0.04, "water": 0.03,
          "agriculture_food": 0.03, "design": 0.03, "finance_tech": 0.03, "defence_safety": 0.02}  # fmt: skip
DEMAND = {"ict": 0.20, "engineering": 0.13, "healthcare_technology": 0.11, "science": 0.10, "energy": 0.08,
          "design": 0.08, "construction": 0.05, "manufacturing": 0.05, "mobility": 0.04, "water": 0.04,
          "agriculture_food": 0.04, "finance_tech": 0.04, "logistics": 0.02, "defence_safety": 0.02}  # fmt: skip
# How many sectors a group ranks on the school form (0 to 3): some none, most one to three.
SECTORS_RANKED = (0.15, 0.25, 0.25, 0.35)


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


def _sectors(rng: np.random.Generator, shares: dict[str, float], n: int) -> tuple[str, ...]:
    names = list(shares)
    weights = np.array([shares[x] for x in names])
    return tuple(str(x) for x in rng.choice(names, size=n, replace=False, p=weights / weights.sum()))


def national(scale: int = 1, seed: int = 0, capacity_factor: float = 1.1, prefs: int = 0,
             pupil_prefs: int = 5, travel_km: tuple[int, int] = (30, 60), whole_share: float = 0.4,
             sectors: bool = True) -> Instance:  # fmt: skip
    """``prefs``: activities each group names (the school form names none; the API may), besides
    the ranked sectors (``sectors``) drawn as schools fill in the form. Sectors are drawn from a
    generator of their own, so the rest of the instance is the same with or without them."""
    rng = np.random.default_rng(seed)
    srng = np.random.default_rng([seed, 15])
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
            sector = _sectors(srng, SUPPLY, 1)[0] if sectors else ""
            activities.append(Activity(f"A{c:05d}-{j}", int(act_cap[i]), place.lat, place.lon,
                                       frozenset(levels), lo, hi, SLOTS[int(rng.integers(0, 2))], f"C{c:05d}", sector))  # fmt: skip
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
        ranked = _sectors(srng, DEMAND, int(srng.choice(4, p=SECTORS_RANKED))) if sectors else ()
        groups.append(Group(gid, size, place.lat, place.lon, level, ages[0], ages[1], slots, limit,
                            max_parts, 5 if max_parts > 1 else 1, prefs_g, f"S{s:05d}", refs, ranked))  # fmt: skip
        near_p = [activities[j].id for j in np.argsort(d)[:30] if level in activities[j].levels]
        for ref in refs:
            choice = rng.permutation(near_p)[:pupil_prefs] if near_p else []
            pupils.append(Pupil(ref, place.lat, place.lon, tuple(str(x) for x in choice), gid, f"S{s:05d}", sectors=ranked))
    return Instance(groups, activities, pupils)
