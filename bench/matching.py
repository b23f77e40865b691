"""Benchmark of the matching engine on seeded national-scale instances (and x10).

    .venv/bin/python bench/matching.py [--scales 1,10] [--seed 1] [--no-library]

Prints time, peak memory (tracemalloc, Python allocations incl. numpy) and quality for both modes,
and the `matching` library's build+solve time on the individual-mode national instance. The last
line is one JSON object with every figure.
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
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-library", action="store_true")
    args = ap.parse_args()
    figures: dict = {"seed": args.seed}
    for scale in [int(s) for s in args.scales.split(",")]:
        inst = national(scale, args.seed)
        tag = f"x{scale}"
        print(f"== {tag}: {len(inst.groups)} groups, {len(inst.pupils)} pupils, {len(inst.activities)} activities, "
              f"capacity {sum(a.capacity for a in inst.activities) / len(inst.pupils):.2f} x demand")  # fmt: skip
        _, g_s = timed(lambda: allocate_groups(inst.groups, inst.activities, seed=args.seed))
        g, _, g_mb = measure(lambda: allocate_groups(inst.groups, inst.activities, seed=args.seed))
        q = g.quality
        print(f"group mode: {g_s:.2f} s, peak {g_mb} MiB, placed {q.placed_ratio:.2%}, splits {q.splits}, "
              f"first choice {q.first_choice_ratio:.1%}, mean {q.mean_distance_km:.1f} km, max {q.max_distance_km:.1f} km, "
              f"gap {q.optimality_gap:.1%} ({g.parameters['bound']} bound), placed gap {q.placed_gap:.2%}")  # fmt: skip
        _, i_s = timed(lambda: allocate_pupils(inst.pupils, inst.activities, seed=args.seed))
        i, _, i_mb = measure(lambda: allocate_pupils(inst.pupils, inst.activities, seed=args.seed))
        iq = i.quality
        print(f"individual (deferred acceptance): {i_s:.3f} s, peak {i_mb} MiB, placed {iq.placed_ratio:.2%}, "
              f"first choice {iq.first_choice_ratio:.1%}, blocking pairs {iq.blocking_pairs}")  # fmt: skip
        m, m_s = timed(lambda: allocate_pupils(inst.pupils, inst.activities, seed=args.seed, max_placed=True))
        mq = m.quality
        print(f"individual (max placed): {m_s:.2f} s, placed {mq.placed_ratio:.2%}, blocking pairs {mq.blocking_pairs}")
        figures[tag] = {
            "groups": len(inst.groups), "pupils": len(inst.pupils), "activities": len(inst.activities),
            "group_mode": {"seconds": g_s, "peak_mib": g_mb, **{k: v for k, v in q.as_dict().items() if v is not None},
                           "bound_kind": g.parameters["bound"]},
            "individual": {"seconds": i_s, "peak_mib": i_mb, **{k: v for k, v in iq.as_dict().items() if v is not None}},
            "individual_max_placed": {"seconds": m_s, "placed_ratio": mq.placed_ratio, "blocking_pairs": mq.blocking_pairs},
        }  # fmt: skip
        if scale == 1 and not args.no_library:
            lib = library_time(inst.pupils, inst.activities, args.seed)
            print(f"matching library (build+solve): {lib:.2f} s -> ours is {lib / i_s:.0f}x faster")
            figures[tag]["library_seconds"] = lib
            figures[tag]["speedup_vs_library"] = round(lib / i_s, 1)
    print(json.dumps(figures, default=float))


if __name__ == "__main__":
    main()
