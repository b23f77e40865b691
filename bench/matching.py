"""Benchmark of the matching engine on seeded national-scale instances (and x10).

    .venv/bin/python bench/matching.py [--scales 1,10] [--seeds 1,2,3,4,5] [--no-library]

Group mode runs on every seed (one instance per seed) and reports each seed and the worst one (the
minimum placed share, the maximum time) -- no seed is picked. Individual mode and the `matching`
library's build+solve time run on the first seed's instance. Prints time, peak memory (tracemalloc,
Python allocations incl. numpy) and quality: pupils placed, and of the placed pupils whose group
ranked sectors (or named activities) the share at their first-ranked preference and within their
top three, each with its bound (a maximum flow over the same candidates) and the gap in percentage
points. The instances carry ranked sectors as schools fill in the form (``synthetic.national``).
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
import warnings

sys.path[:] = [p for p in sys.path if not p.endswith("bench")]  # this file is not the `matching` library
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

import scipy.optimize  # noqa: F401  - imported up front: module import is not solver time
import scipy.spatial  # noqa: F401

from services.matching.domain import allocate_groups, allocate_pupils
from services.matching.domain.individual_mode import Priorities
from services.matching.synthetic import national


def measure(fn):
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, round(seconds, 3), round(peak / 2**20, 1)


def timed(fn):
    gc.collect()
    t0 = time.perf_counter()
    result = fn()
    return result, round(time.perf_counter() - t0, 3)


def library_time(pupils, activities, seed: int, band_km: float = 10.0) -> float:
    """The `matching` library, resident-optimal HR, on the same instance (build + solve)."""
    from matching.games import HospitalResident

    pr = Priorities(pupils, activities, seed, band_km)  # the same priorities (not timed)
    resident = {pupils[i].id: [activities[a].id for a in row if a >= 0] for i, row in enumerate(pr.prefs.tolist())}
    resident = {k: v for k, v in resident.items() if v}
    ranked: dict[str, list] = {a.id: [] for a in activities}
    for i, row in enumerate(pr.prefs.tolist()):
        for j, a in enumerate(row):
            if a >= 0:
                ranked[activities[a].id].append((int(pr.key[i, j]), pupils[i].id))
    hospital = {a: [r for _, r in sorted(v)] for a, v in ranked.items()}
    caps = {a.id: a.capacity for a in activities}
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))  # the library needs it at this scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        game = HospitalResident.create_from_dictionaries(resident, hospital, caps)
        game.solve(optimal="resident")
        return round(time.perf_counter() - t0, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,10")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--no-library", action="store_true")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    seed = seeds[0]
    figures: dict = {"seeds": seeds}
    for scale in [int(s) for s in args.scales.split(",")]:
        tag = f"x{scale}"
        per_seed = {}
        for sd in seeds:
            inst = national(scale, sd)
            print(f"== {tag} seed {sd}: {len(inst.groups)} groups, {len(inst.pupils)} pupils, {len(inst.activities)} "
                  f"activities, capacity {sum(a.capacity for a in inst.activities) / len(inst.pupils):.2f} x demand")  # fmt: skip
            _, g_s = timed(lambda: allocate_groups(inst.groups, inst.activities, seed=sd))
            g, _, g_mb = measure(lambda: allocate_groups(inst.groups, inst.activities, seed=sd))
            q = g.quality
            print(f"group mode: {g_s:.2f} s, peak {g_mb} MiB, placed {q.placed_ratio:.2%}, splits {q.splits}, "
                  f"mean {q.mean_distance_km:.1f} km, max {q.max_distance_km:.1f} km, placed gap {q.placed_gap:.2%}")  # fmt: skip
            print(f"  first preference {q.first_choice_ratio:.1%} (bound {q.first_choice_bound:.1%}, gap "
                  f"{100 * (q.first_choice_bound - q.first_choice_ratio):.1f} points); top three {q.top_three_ratio:.1%} "
                  f"(bound {q.top_three_bound:.1%}, gap {100 * (q.top_three_bound - q.top_three_ratio):.1f} points)")  # fmt: skip
            sizes = {gr.id: gr.pupils for gr in inst.groups}
            unplaceable = sum(sizes[k] for k, why in g.waitlist.items() if why.startswith("no suitable activity"))
            if unplaceable:
                print(f"  {unplaceable} pupils have no suitable activity within reach; placed of the placeable: "
                      f"{q.placed_pupils / (len(inst.pupils) - unplaceable):.2%}")  # fmt: skip
            per_seed[sd] = {"seconds": g_s, "peak_mib": g_mb, **{k: v for k, v in q.as_dict().items() if v is not None},
                            "bound_kind": g.parameters["bound"], "unplaceable_pupils": unplaceable}  # fmt: skip
            per_seed[sd]["first_choice_gap_points"] = round(100 * (q.first_choice_bound - q.first_choice_ratio), 2)
            per_seed[sd]["top_three_gap_points"] = round(100 * (q.top_three_bound - q.top_three_ratio), 2)
        worst = {"min_placed_ratio": min(v["placed_ratio"] for v in per_seed.values()),
                 "max_seconds": max(v["seconds"] for v in per_seed.values()),
                 "max_first_choice_gap_points": max(v["first_choice_gap_points"] for v in per_seed.values()),
                 "max_top_three_gap_points": max(v["top_three_gap_points"] for v in per_seed.values())}  # fmt: skip
        print(f"group mode over seeds {args.seeds}: placed " + ", ".join(f"{v['placed_ratio']:.2%}" for v in per_seed.values())
              + f"; minimum {worst['min_placed_ratio']:.2%}; slowest {worst['max_seconds']:.2f} s")  # fmt: skip
        inst = national(scale, seed)
        _, i_s = timed(lambda: allocate_pupils(inst.pupils, inst.activities, seed=seed))
        i, _, i_mb = measure(lambda: allocate_pupils(inst.pupils, inst.activities, seed=seed))
        iq = i.quality
        print(f"individual (deferred acceptance): {i_s:.3f} s, peak {i_mb} MiB, placed {iq.placed_ratio:.2%}, "
              f"first choice {iq.first_choice_ratio:.1%}, blocking pairs {iq.blocking_pairs}")  # fmt: skip
        m, m_s = timed(lambda: allocate_pupils(inst.pupils, inst.activities, seed=seed, max_placed=True))
        mq = m.quality
        print(f"individual (max placed): {m_s:.2f} s, placed {mq.placed_ratio:.2%}, blocking pairs {mq.blocking_pairs}")
        figures[tag] = {
            "groups": len(inst.groups), "pupils": len(inst.pupils), "activities": len(inst.activities),
            "group_mode": {**worst, "per_seed": per_seed},
            "individual": {"seconds": i_s, "peak_mib": i_mb, **{k: v for k, v in iq.as_dict().items() if v is not None}},
            "individual_max_placed": {"seconds": m_s, "placed_ratio": mq.placed_ratio, "blocking_pairs": mq.blocking_pairs},
        }  # fmt: skip
        if scale == 1 and not args.no_library:
            lib = library_time(inst.pupils, inst.activities, seed)
            print(f"matching library (build+solve): {lib:.2f} s -> ours is {lib / i_s:.0f}x faster")
            figures[tag]["library_seconds"] = lib
            figures[tag]["speedup_vs_library"] = round(lib / i_s, 1)
    print(json.dumps(figures, default=float))


if __name__ == "__main__":
    main()
