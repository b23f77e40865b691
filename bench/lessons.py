"""Benchmark of the guest-lesson engine (issue 18): a season of 600 lesson requests and 2,000 role
models, and a simulated school year with declines, silences and late cancellations.

    flock -x /tmp/girlsday-cpu.lock .venv/bin/python bench/lessons.py [--seeds 1,2,3] [--decline 0.08]
        [--silence 0.05] [--late-cancel 0.05] [--release-days 5] [--ask-at-once 1]

Per seed: the proposal (``assign_lessons`` on every request at once: time, fill rate against the LP
bound, spread of load), the time of one backfill (``backfill_candidates`` after a cancellation,
from plain inputs, over 50 cancellations), and the season simulated twice with the same random
answers — with automatic backfill and without (a declined, silent or cancelling role model loses
the lesson, as in 2024: 218 of 300 lessons given, 72.7 %). Requests arrive during the year (4 to 10
weeks before their first date option) and are proposed weekly, the later runs holding the earlier
runs' role models as commitments. Targets: proposal < 2 s, one backfill < 100 ms, lessons delivered
with backfill >= 95 % of what the supply can staff (the bound). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scipy.optimize  # noqa: F401  - imported up front: module import is not solver time

from services.matching.domain.lessons import Commitment, Ledger, LessonRequest, Pool, assign_lessons, backfill_candidates
from services.matching.domain.lessons.bound import BoundLesson, staffing_bound
from services.matching.lessons_synthetic import Season, season

TARGETS = {"proposal_s": 2.0, "backfill_ms": 100.0, "delivered_of_what_supply_can_staff": 0.95}


@dataclass(frozen=True)
class Rates:
    decline: float = 0.08  # a role model asked says no
    silence: float = 0.05  # she does not answer: released after release_days
    late_cancel: float = 0.05  # she confirmed and cancels 1-14 days before the lesson
    release_days: int = 5
    ask_at_once: int = 1  # backfill candidates asked together
    urgent_days: int = 14  # a lesson this close is urgent:
    urgent_ask_at_once: int = 3  # ... so more candidates are asked together (the first to confirm gets it)
    urgent_release_days: int = 2  # ... and an unanswered ask is released sooner
    lead_weeks: tuple[int, int] = (4, 16)  # a school requests this long before its first date option
    min_notice_days: int = 2  # nobody is asked later than this before the lesson
    alert_days: int = 7  # staff are alerted when a lesson is not fully confirmed this long before


@dataclass
class Outcome:
    delivered: int = 0
    delivered_by_type: dict = field(default_factory=lambda: defaultdict(int))
    asks: int = 0
    declines: int = 0
    silences: int = 0
    late_cancellations: int = 0
    backfill_asks: int = 0
    backfilled_places: int = 0
    already_taken: int = 0  # confirmed a place someone else had just taken ("al bezet")
    alerts: int = 0
    runs: int = 0
    not_delivered: dict = field(default_factory=lambda: defaultdict(int))  # why, for lessons the supply could staff
    backfill_ms: list = field(default_factory=list)


def _answer(seed: int, lesson: str, rm: str, rates: Rates) -> tuple[str, int, float]:
    """Her answer to being asked for this lesson — the same in both simulated seasons."""
    r = random.Random(f"{seed}/{lesson}/{rm}")
    u, delay, late = r.random(), r.randint(0, 3), r.random()
    if u < rates.decline:
        return "decline", max(1, delay), late
    if u < rates.decline + rates.silence:
        return "silence", rates.release_days, late
    return "confirm", delay, late


def simulate(s: Season, seed: int, rates: Rates, backfill: bool) -> Outcome:
    pool = Pool(s.role_models)
    ids = [rm.id for rm in s.role_models]
    ledger = Ledger(pool)  # every role model asked (pending) or confirmed
    requests = {r.id: r for r in s.requests}
    rnd = random.Random(seed)
    lo, hi = rates.lead_weeks
    arrival = {r.id: min(r.date_options) - timedelta(days=rnd.randint(7 * lo, 7 * hi)) for r in s.requests}
    # a role model named by a school (a mother at her own child's school) registers when it asks for the lesson
    joins = {f: arrival[r.id] for r in s.requests for f in r.fixed}
    pools: dict[frozenset, Pool] = {}

    def not_yet(day: date) -> frozenset:
        return frozenset(f for f, d in joins.items() if d > day)

    status: dict[str, dict[str, str]] = defaultdict(dict)  # lesson -> role model -> pending | confirmed
    tried: dict[str, set[str]] = defaultdict(set)
    lesson_date: dict[str, date] = {}
    lost: set[str] = set()
    out = Outcome()
    events: list = []
    seq = 0

    def push(day: date, kind: str, *payload) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (day, seq, kind, payload))

    def ask(lid: str, rm: str, day: date, from_backfill: bool) -> None:
        ledger.add(pool.index[rm], lid, lesson_date[lid])
        status[lid][rm] = "pending"
        tried[lid].add(rm)
        out.asks += 1
        out.backfill_asks += from_backfill
        kind, delay, _ = _answer(seed, lid, rm, rates)
        if kind == "silence" and lesson_date[lid] - day <= timedelta(days=rates.urgent_days):
            delay = rates.urgent_release_days
        when = day + timedelta(days=delay)
        if when >= lesson_date[lid]:  # no answer in time
            kind, when = "silence", lesson_date[lid] - timedelta(days=1)
        push(max(day, when), kind, lid, rm, from_backfill)

    def drop(lid: str, rm: str) -> None:
        ledger.remove(pool.index[rm], lid, lesson_date[lid])
        del status[lid][rm]

    def refill(lid: str, day: date) -> None:
        if not backfill or lid in lost or day > lesson_date[lid] - timedelta(days=rates.min_notice_days):
            return
        r = requests[lid]
        open_places = r.role_models_needed - sum(v == "confirmed" for v in status[lid].values())
        urgent = lesson_date[lid] - day <= timedelta(days=rates.urgent_days)
        at_once = rates.urgent_ask_at_once if urgent else rates.ask_at_once
        wanted = at_once * open_places - sum(v == "pending" for v in status[lid].values())
        if open_places <= 0 or wanted <= 0:
            return
        t0 = time.perf_counter()
        found = backfill_candidates(r, lesson_date[lid], pool, ledger, exclude=tried[lid] | not_yet(day), limit=wanted)
        out.backfill_ms.append((time.perf_counter() - t0) * 1000)
        for c in found:
            ask(lid, c.role_model_id, day, True)

    last_failure: dict[str, str] = {}

    def fail(lid: str, rm: str, day: date, why: str) -> None:
        last_failure[lid] = why
        drop(lid, rm)
        if backfill:
            refill(lid, day)
        elif lid not in lost:  # without backfill the lesson is cancelled: its other role models are let go
            lost.add(lid)
            for other in list(status[lid]):
                drop(lid, other)

    first_day = min(arrival.values())
    day = first_day - timedelta(days=first_day.weekday())
    end = max(max(r.date_options) for r in s.requests) + timedelta(days=1)
    while day <= end:
        push(day, "run")
        day += timedelta(days=7)

    waiting = {r.id for r in s.requests}  # arrived or not, not yet given a date
    while events:
        day, _, kind, payload = heapq.heappop(events)
        if kind == "run":
            for lid in sorted(lesson_date):  # the backfill queue: lessons still short, nobody asked
                if "pending" not in status[lid].values():
                    refill(lid, day)
            soon = day + timedelta(days=7)  # nobody is asked for a lesson within a week by a proposal
            due = [requests[x] for x in sorted(waiting) if arrival[x] <= day and max(requests[x].date_options) > soon]
            if not due:
                continue
            due = [LessonRequest(r.id, r.lesson_type, r.level, r.lat, r.lon, tuple(d for d in r.date_options if d > soon),
                                 r.role_models_needed, r.fixed, r.sector, r.language, r.school_id) for r in due]  # fmt: skip
            held = [Commitment(ids[m], lid, d) for (m, d), lid in ledger.on_date.items()]
            absent = not_yet(day)
            if absent not in pools:
                pools[absent] = Pool([rm for rm in s.role_models if rm.id not in absent])
            plan = assign_lessons(due, pools[absent], held, seed=seed, bound=False)
            out.runs += 1
            for st in plan.staffings.values():
                if not st.full:
                    continue  # asked again at the next weekly run
                waiting.discard(st.request_id)
                lesson_date[st.request_id] = st.date
                push(st.date, "lesson", st.request_id)
                push(st.date - timedelta(days=rates.alert_days), "alert", st.request_id)
                for rm in st.role_model_ids:
                    ask(st.request_id, rm, day, False)
        elif kind == "decline":
            lid, rm, _ = payload
            if rm in status[lid]:
                out.declines += 1
                fail(lid, rm, day, "decline")
        elif kind == "silence":
            lid, rm, _ = payload
            if status[lid].get(rm) == "pending":
                out.silences += 1
                fail(lid, rm, day, "silence")
        elif kind == "confirm":
            lid, rm, from_backfill = payload
            if status[lid].get(rm) != "pending":
                continue
            confirmed = sum(1 for v in status[lid].values() if v == "confirmed")
            if lid in lost or confirmed >= requests[lid].role_models_needed:
                out.already_taken += 1
                drop(lid, rm)
                continue
            status[lid][rm] = "confirmed"
            out.backfilled_places += from_backfill
            _, _, late = _answer(seed, lid, rm, rates)
            if late < rates.late_cancel:
                when = lesson_date[lid] - timedelta(days=random.Random(f"{seed}/{lid}/{rm}/late").randint(1, 14))
                push(max(day + timedelta(days=1), when), "cancel", lid, rm)
            if confirmed + 1 >= requests[lid].role_models_needed:  # full: the others asked at once are told
                for other, v in list(status[lid].items()):
                    if v == "pending":
                        out.already_taken += 1
                        drop(lid, other)
        elif kind == "cancel":
            lid, rm = payload
            if status[lid].get(rm) == "confirmed" and day < lesson_date[lid]:
                out.late_cancellations += 1
                fail(lid, rm, day, "late cancellation")
        elif kind == "alert":
            lid = payload[0]
            if lid not in lost and sum(v == "confirmed" for v in status[lid].values()) < requests[lid].role_models_needed:
                out.alerts += 1
        elif kind == "lesson":
            lid = payload[0]
            if lid not in lost and sum(v == "confirmed" for v in status[lid].values()) == requests[lid].role_models_needed:
                out.delivered += 1
                out.delivered_by_type[requests[lid].lesson_type] += 1
            else:
                out.not_delivered[last_failure.get(lid, "?")] += 1
    out.not_delivered["never proposed"] = len(waiting)
    out.never_proposed = sorted(waiting)
    return out


def willing_bound(s: Season, seed: int, rates: Rates) -> int:
    """What the willing supply can staff, in hindsight: the LP bound over the pairs (lesson, role model)
    whose answer in the simulation is yes and who would not cancel late (the same random answers)."""
    pool = Pool(s.role_models)
    ledger = Ledger(pool)
    lessons = []
    for r in s.requests:
        km = pool.distances(r)
        suitable = pool.suitable(r, km)

        def willing(m: int) -> bool:
            kind, _, late = _answer(seed, r.id, pool.role_models[m].id, rates)
            return kind == "confirm" and late >= rates.late_cancel

        fixed = [pool.index[f] for f in r.fixed if willing(pool.index[f])]  # a named one who says no is replaced
        options = []
        for d in r.date_options:
            eligible = pool.eligible(r, d, km, suitable).tolist()
            if all(f in eligible for f in fixed):
                options.append((d, [m for m in eligible if m not in fixed and willing(m)]))
        lessons.append(BoundLesson(r.role_models_needed - len(fixed), fixed, options, False))
    return staffing_bound(lessons, pool, ledger)[0]


def proposal(s: Season, seed: int) -> tuple[dict, object]:
    assign_lessons(s.requests, s.role_models, seed=seed)  # warm (HiGHS, caches of nothing else)
    times, plan = [], None
    for _ in range(3):
        gc.collect()
        t0 = time.perf_counter()
        plan = assign_lessons(s.requests, s.role_models, seed=seed)
        times.append(time.perf_counter() - t0)
    return {**plan.quality.as_dict(), "engine_seconds": plan.quality.seconds, "seconds": round(statistics.median(times), 3)}, plan


def backfill_timing(s: Season, plan, seed: int, n: int = 50) -> dict:
    held = plan.assignments()
    staffed = sorted({c.request_id for c in held})
    requests = {r.id: r for r in s.requests}
    rnd = random.Random(seed)
    ms = []
    for lid in rnd.sample(staffed, min(n, len(staffed))):
        leaving = next(c for c in held if c.request_id == lid)
        rest = [c for c in held if c != leaving]
        gc.collect()
        t0 = time.perf_counter()  # from plain inputs: the role models and every commitment
        found = backfill_candidates(requests[lid], leaving.date, s.role_models, rest, exclude=[leaving.role_model_id], limit=5)
        ms.append((time.perf_counter() - t0) * 1000)
        del found
    return {
        "cancellations": len(ms),
        "min_ms": round(min(ms), 2),
        "median_ms": round(statistics.median(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--role-models", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--active-share", type=float, default=0.35)
    ap.add_argument("--decline", type=float, default=Rates.decline)
    ap.add_argument("--silence", type=float, default=Rates.silence)
    ap.add_argument("--late-cancel", type=float, default=Rates.late_cancel)
    ap.add_argument("--release-days", type=int, default=Rates.release_days)
    ap.add_argument("--ask-at-once", type=int, default=Rates.ask_at_once)
    args = ap.parse_args()
    rates = Rates(args.decline, args.silence, args.late_cancel, args.release_days, args.ask_at_once)
    figures: dict = {
        "bench": "lessons",
        "database": "none (the engine is pure: no I/O)",
        "targets": TARGETS,
        "rates": rates.__dict__,
        "per_seed": {},
    }
    for sd in [int(x) for x in args.seeds.split(",")]:
        s = season(sd, args.role_models, args.requests, active_share=args.active_share)
        named = sum(bool(r.fixed) for r in s.requests)
        print(f"== seed {sd}: {len(s.role_models)} role models, {len(s.requests)} requests ({named} naming a role model)")
        prop, plan = proposal(s, sd)
        print(f"proposal: {prop['seconds']:.2f} s (engine {prop['engine_seconds']:.2f} s, bound {prop['bound_seconds']:.2f} s); "
              f"fully staffed {prop['fully_staffed']} of {prop['requests']} ({prop['fill_rate']:.1%}), bound {prop['bound']} ({prop['bound_kind']}), "
              f"{prop['fill_of_bound']:.1%} of the bound; loads {prop['load_histogram']}, unfair {prop['unfair_pairs']}, "
              f"mean {prop['mean_km']} km")  # fmt: skip
        bf = backfill_timing(s, plan, sd)
        print(f"one backfill (from plain inputs, {bf['cancellations']} cancellations): median {bf['median_ms']} ms, max {bf['max_ms']} ms")
        t0 = time.perf_counter()
        with_bf = simulate(s, sd, rates, backfill=True)
        without = simulate(s, sd, rates, backfill=False)
        sim_s = time.perf_counter() - t0
        bound = prop["bound"]
        willing = willing_bound(s, sd, rates)
        row = {
            "proposal": prop,
            "backfill": bf,
            "season": {
                "bound": bound,
                "willing_bound": willing,
                "with_of_willing": round(with_bf.delivered / willing, 4),
                "without_of_willing": round(without.delivered / willing, 4),
                "with_backfill": with_bf.delivered,
                "without_backfill": without.delivered,
                "with_of_bound": round(with_bf.delivered / bound, 4),
                "without_of_bound": round(without.delivered / bound, 4),
                "with_of_requests": round(with_bf.delivered / len(s.requests), 4),
                "without_of_requests": round(without.delivered / len(s.requests), 4),
                "by_type_with": dict(sorted(with_bf.delivered_by_type.items())),
                "by_type_without": dict(sorted(without.delivered_by_type.items())),
                "asks": with_bf.asks, "declines": with_bf.declines, "silences": with_bf.silences,
                "late_cancellations": with_bf.late_cancellations, "backfill_asks": with_bf.backfill_asks,
                "backfilled_places": with_bf.backfilled_places, "already_taken": with_bf.already_taken,
                "alerts": with_bf.alerts, "weekly_runs": with_bf.runs, "not_delivered": dict(with_bf.not_delivered),
                "backfill_median_ms": round(statistics.median(with_bf.backfill_ms), 2) if with_bf.backfill_ms else None,
                "simulation_s": round(sim_s, 1),
            },
        }  # fmt: skip
        se = row["season"]
        print(f"season: delivered with backfill {se['with_backfill']}, without {se['without_backfill']} — of what the willing supply "
              f"can staff ({willing}): {se['with_of_willing']:.1%} / {se['without_of_willing']:.1%}; of the proposal's bound ({bound}): "
              f"{se['with_of_bound']:.1%} / {se['without_of_bound']:.1%}; of requests: {se['with_of_requests']:.1%} / "
              f"{se['without_of_requests']:.1%}; {se['declines']} declines, {se['silences']} silences, {se['late_cancellations']} late "
              f"cancellations, {se['backfilled_places']} places backfilled from {se['backfill_asks']} asks, {se['alerts']} staff alerts "
              f"({se['simulation_s']} s); not delivered: {se['not_delivered']}")  # fmt: skip
        figures["per_seed"][sd] = row
    rows = figures["per_seed"].values()
    figures["worst"] = {
        "proposal_s": max(r["proposal"]["seconds"] for r in rows),
        "backfill_ms": max(r["backfill"]["max_ms"] for r in rows),
        "fill_of_bound": min(r["proposal"]["fill_of_bound"] for r in rows),
        "delivered_of_willing": min(r["season"]["with_of_willing"] for r in rows),
        "without_of_willing": min(r["season"]["without_of_willing"] for r in rows),
        "delivered_of_bound": min(r["season"]["with_of_bound"] for r in rows),
        "without_of_bound": min(r["season"]["without_of_bound"] for r in rows),
    }
    w = figures["worst"]
    figures["targets_met"] = {
        "proposal_s": w["proposal_s"] < TARGETS["proposal_s"],
        "backfill_ms": w["backfill_ms"] < TARGETS["backfill_ms"],
        "delivered_of_what_supply_can_staff": w["delivered_of_willing"] >= TARGETS["delivered_of_what_supply_can_staff"],
    }
    print(f"worst over seeds: proposal {w['proposal_s']} s, backfill {w['backfill_ms']} ms, fill {w['fill_of_bound']:.1%} of the bound, "
          f"delivered {w['delivered_of_willing']:.1%} of what the willing supply can staff (without backfill {w['without_of_willing']:.1%}), "
          f"{w['delivered_of_bound']:.1%} of the proposal's bound ({w['without_of_bound']:.1%}); targets met: {figures['targets_met']}")  # fmt: skip
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
