"""Random small instances for the property tests, and independent checkers."""

import math
from dataclasses import replace

from hypothesis import strategies as st

from services.matching.domain import Activity, Group, Pupil

LEVELS = ("po", "vo")
SLOTS = ("morning", "afternoon")


def km(a_lat, a_lon, b_lat, b_lon) -> float:
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b_lon - a_lon) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


coord = st.tuples(st.floats(51.5, 52.5), st.floats(4.5, 6.0))


@st.composite
def activities(draw, n=None):
    n = n if n is not None else draw(st.integers(1, 8))
    out = []
    for i in range(n):
        lat, lon = draw(coord)
        levels = draw(st.sampled_from([frozenset(), frozenset({"po"}), frozenset({"vo"}), frozenset(LEVELS)]))
        lo = draw(st.one_of(st.none(), st.integers(9, 13)))
        hi = draw(st.one_of(st.none(), st.integers(12, 16)))
        out.append(Activity(f"a{i}", draw(st.integers(0, 40)), lat, lon, levels, lo, hi,
                            draw(st.sampled_from(SLOTS)), f"c{i % 3}"))  # fmt: skip
    return out


@st.composite
def group_instances(draw):
    acts = draw(activities())
    groups = []
    for i in range(draw(st.integers(1, 12))):
        lat, lon = draw(coord)
        pupils = draw(st.integers(1, 35))
        max_parts = draw(st.integers(1, 3))
        lo = draw(st.integers(10, 13))
        prefs = tuple(draw(st.lists(st.sampled_from([a.id for a in acts] + ["unknown"]), max_size=3)))
        groups.append(Group(
            f"g{i}", pupils, lat, lon, draw(st.sampled_from(LEVELS)), lo, lo + draw(st.integers(0, 2)),
            draw(st.one_of(st.none(), st.sets(st.sampled_from(SLOTS), min_size=1).map(frozenset))),
            draw(st.one_of(st.none(), st.floats(5, 150))), max_parts,
            draw(st.integers(1, 10)) if max_parts > 1 else 1, prefs, f"s{i}",
            tuple(f"g{i}-p{k}" for k in range(pupils)),
        ))  # fmt: skip
    return groups, acts


SECTORS = ("ict", "energy", "science", "engineering")


@st.composite
def sector_instances(draw):
    """Groups that rank sectors (as the school form asks: none to three) and sometimes name
    activities; activities each in one sector."""
    groups, acts = draw(group_instances())
    acts = [Activity(a.id, a.capacity, a.lat, a.lon, a.levels, a.min_age, a.max_age, a.slot, a.company_id,
                     draw(st.sampled_from(SECTORS))) for a in acts]  # fmt: skip
    ranked = [tuple(draw(st.lists(st.sampled_from(SECTORS + ("water",)), max_size=3, unique=True))) for _ in groups]
    return [replace(g, sectors=s) for g, s in zip(groups, ranked)], acts


@st.composite
def pupil_instances(draw):
    acts = draw(activities())
    pupils = []
    schools = [draw(coord) for _ in range(draw(st.integers(1, 4)))]
    for i in range(draw(st.integers(1, 40))):
        lat, lon = schools[draw(st.integers(0, len(schools) - 1))]
        prefs = draw(st.lists(st.sampled_from([a.id for a in acts]), max_size=4, unique=True))
        pupils.append(Pupil(f"p{i}", lat, lon, tuple(prefs), f"g{i % 5}"))
    return pupils, acts
