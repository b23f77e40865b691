"""Assign role models to lesson requests.

Objective, in order: lessons fully staffed; a fair spread of load (the sum of squared season loads,
so a second lesson for one waits until others had a first); the school's sector wish; different
fields within a lesson; the school's first date option; travel. Hard rules (``model.ineligibility``
plus the ledger): she is available on the date, within her travel limit, gives that level and type
(and language when one is asked), at most one lesson a day and her maximum per term; a lesson gets
exactly the number of role models it needs, all different; fixed role models (named or pinned) and
commitments are held and never moved.

1. Construction: lessons naming a role model first, then hardest first (least slack between free
   candidates and places), each at the
   date option with the cheapest set of role models (chosen one by one, so field variety counts).
2. Repair: a lesson left without enough free role models takes a blocked one by replacing her on
   another lesson of this run with a free candidate of that one (one move; the move is undone when
   the lesson still cannot be staffed).
3. Improvement: a role model is replaced by a free candidate of the same lesson while that lowers
   the cost, so no role model keeps two or more lessons more than a free candidate of hers.
Deterministic: ties are broken by one seeded permutation of the role models and of the requests.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .bound import BoundLesson, staffing_bound
from .model import (
    W_KM,
    W_LOAD,
    W_OPTION,
    W_SAME_FIELD,
    W_SECTOR,
    Commitment,
    LessonPlan,
    LessonQuality,
    LessonRequest,
    RoleModel,
    Staffing,
    ineligibility,
    school_term,
)
from .pool import Ledger, Pool

MAX_IMPROVEMENT_PASSES = 50


@dataclass
class _Option:
    rank: int  # position in the school's list
    date: date
    cands: list[int]  # eligible role models, nearest first (without the lesson's fixed and committed ones)


@dataclass
class _Lesson:
    req: LessonRequest
    order: int
    committed: list[int]
    fixed: list[int]
    need: int  # role models the engine chooses
    options: list[_Option]
    km: dict[int, float]
    reason: str = ""
    option: _Option | None = None
    chosen: list[int] = field(default_factory=list)

    @property
    def members(self) -> list[int]:
        return self.committed + self.fixed + self.chosen

    @property
    def needed(self) -> int:
        return self.req.role_models_needed


def assign_lessons(
    requests: Sequence[LessonRequest],
    role_models: Sequence[RoleModel] | Pool,
    commitments: Iterable[Commitment] = (),
    *,
    seed: int = 0,
    term_of: Callable[[date], object] = school_term,
    bound: bool = True,
) -> LessonPlan:
    t0 = time.perf_counter()
    pool = role_models if isinstance(role_models, Pool) else Pool(role_models)
    commitments = tuple(commitments)
    engine = _Engine(pool, Ledger(pool, commitments, term_of), seed)
    engine.prepare(requests)
    engine.construct()
    engine.repair()
    engine.improve()
    engine.hold_partial()
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    value, kind = staffing_bound(engine.bound_input(), pool, Ledger(pool, commitments, term_of), lp=bound)
    return engine.plan(seed, value, kind, seconds, time.perf_counter() - t1)


class _Engine:
    def __init__(self, pool: Pool, ledger: Ledger, seed: int):
        self.pool, self.ledger = pool, ledger
        rng = np.random.default_rng(seed)
        self.tb = rng.permutation(len(pool)).tolist()  # seeded order among equal role models
        self.rng = rng
        self.lessons: list[_Lesson] = []
        self.by_id: dict[str, _Lesson] = {}
        self.runs_of: defaultdict[int, set[str]] = defaultdict(set)  # role model -> lessons where the run chose her
        self.log: list[tuple] = []

    # -- inputs ----------------------------------------------------------------------------------

    def prepare(self, requests: Sequence[LessonRequest]) -> None:
        pool, ledger = self.pool, self.ledger
        order = self.rng.permutation(len(requests)).tolist()
        for r, k in zip(requests, order):
            if r.id in self.by_id:
                raise ValueError(f"lesson request {r.id!r} occurs twice")
            if r.role_models_needed < 1 or len(set(r.fixed)) != len(r.fixed) or len(r.fixed) > r.role_models_needed:
                raise ValueError(f"lesson request {r.id!r}: needs {r.role_models_needed}, fixes {list(r.fixed)}")
            held = ledger.by_request.get(r.id, [])
            committed = [m for m, _ in held]
            committed_dates = sorted({d for _, d in held})
            if len(committed_dates) > 1:
                raise ValueError(f"lesson request {r.id!r}: commitments on {len(committed_dates)} different dates")
            unknown = [f for f in r.fixed if f not in pool.index]
            fixed = [pool.index[f] for f in r.fixed if f in pool.index and pool.index[f] not in committed]
            les = _Lesson(r, k, committed, fixed, max(0, r.role_models_needed - len(committed) - len(fixed)), [], {})
            self.lessons.append(les)
            self.by_id[r.id] = les
            if unknown:
                les.reason = f"named role model {unknown[0]} is not registered"
                continue
            km_all = pool.distances(r)
            for m in committed + fixed:
                les.km[m] = float(km_all[m])
            if len(committed) >= r.role_models_needed:
                les.option = _Option(0, committed_dates[0], [])
                continue
            suitable = pool.suitable(r, km_all)
            for rank, d in enumerate(committed_dates or r.date_options):
                why = next(filter(None, (self._why_not(r, f, d, km_all) for f in fixed)), None)
                if why:
                    les.reason = les.reason or why
                    continue
                if committed_dates:  # the date is settled: its rank is the school's
                    rank = r.date_options.index(d) if d in r.date_options else 0
                taken = set(committed) | set(fixed)
                cands = [m for m in pool.eligible(r, d, km_all, suitable).tolist() if m not in taken]
                les.options.append(_Option(rank, d, cands))
                for m in cands:
                    les.km[m] = float(km_all[m])
            if les.options:
                les.reason = ""

    def _why_not(self, r: LessonRequest, m: int, d: date, km_all: np.ndarray) -> str | None:
        rm = self.pool.role_models[m]
        why = ineligibility(r, rm, d, float(km_all[m]))
        return f"named role model {rm.id} {why}" if why else None

    # -- costs -----------------------------------------------------------------------------------

    def _cost(self, les: _Lesson, m: int, d: date, others: list[int]) -> float:
        c = W_LOAD * (2 * self.ledger.load(m, d) + 1) + W_KM * les.km[m]
        if les.req.sector and self.pool.sectors[m] != les.req.sector:
            c += W_SECTOR
        f = self.pool.fields[m]
        if f and any(self.pool.fields[o] == f for o in others):
            c += W_SAME_FIELD
        return c

    def _best(self, les: _Lesson, opt: _Option, others: list[int], exclude: set[int] | frozenset = frozenset()) -> tuple[float, int] | None:
        """The cheapest free candidate of a lesson on an option. Candidates come nearest first and no
        cost is below W_LOAD + km, so the scan stops once nobody further can be cheaper."""
        best: tuple[float, int, int] | None = None
        for m in opt.cands:
            if best is not None and W_LOAD + W_KM * les.km[m] > best[0]:
                break
            if m in exclude or m in others or not self.ledger.free(m, opt.date):
                continue
            key = (self._cost(les, m, opt.date, others), self.tb[m], m)
            if best is None or key < best:
                best = key
        return None if best is None else (best[0], best[2])

    def _select(self, les: _Lesson, opt: _Option) -> tuple[float, list[int]] | None:
        """The cheapest set of free role models for an option (without changing anything)."""
        if not all(self.ledger.free(f, opt.date) for f in les.fixed):
            return None
        others, picks, total = les.committed + les.fixed, [], W_OPTION * opt.rank
        for _ in range(les.need):
            found = self._best(les, opt, others + picks)
            if found is None:
                return None
            total += found[0]
            picks.append(found[1])
        return total, picks

    # -- changes (every one logged, so a failed repair is rolled back exactly) --------------------

    def _staff(self, les: _Lesson, opt: _Option, picks: list[int]) -> None:
        les.option, les.chosen = opt, list(picks)
        for m in les.fixed + les.chosen:
            self.ledger.add(m, les.req.id, opt.date)
        for m in les.chosen:
            self.runs_of[m].add(les.req.id)
        self.log.append(("staff", les, opt, list(picks)))

    def _unstaff(self, les: _Lesson) -> None:
        self.log.append(("unstaff", les, les.option, list(les.chosen)))
        for m in les.fixed + les.chosen:
            self.ledger.remove(m, les.req.id, les.option.date)
        for m in les.chosen:
            self.runs_of[m].discard(les.req.id)
        les.option, les.chosen = None, []

    def _replace(self, les: _Lesson, old: int, new: int) -> None:
        d = les.option.date
        self.ledger.remove(old, les.req.id, d)
        self.runs_of[old].discard(les.req.id)
        self.ledger.add(new, les.req.id, d)
        self.runs_of[new].add(les.req.id)
        les.chosen[les.chosen.index(old)] = new
        self.log.append(("replace", les, old, new))

    def _add_member(self, les: _Lesson, m: int) -> None:
        les.chosen.append(m)
        self.ledger.add(m, les.req.id, les.option.date)
        self.runs_of[m].add(les.req.id)
        self.log.append(("add", les, m))

    def _drop_member(self, les: _Lesson, m: int) -> None:
        les.chosen.remove(m)
        self.ledger.remove(m, les.req.id, les.option.date)
        self.runs_of[m].discard(les.req.id)
        self.log.append(("drop", les, m))

    def _rollback(self, checkpoint: int) -> None:
        while len(self.log) > checkpoint:
            op = self.log.pop()
            if op[0] == "staff":
                self._unstaff(op[1])
            elif op[0] == "unstaff":
                self._staff(op[1], op[2], op[3])
            elif op[0] == "add":
                self._drop_member(op[1], op[2])
            elif op[0] == "drop":
                self._add_member(op[1], op[2])
            else:
                self._replace(op[1], op[3], op[2])
            self.log.pop()  # the inverse just logged itself

    # -- the three phases ------------------------------------------------------------------------

    def _slack(self, les: _Lesson) -> int:
        return max((sum(1 for m in o.cands if self.ledger.free(m, o.date)) - les.need for o in les.options), default=-1)

    def construct(self) -> None:
        todo = [les for les in self.lessons if les.option is None and les.options]
        # lessons with a named role model first, so no other lesson takes her place before her own school's
        todo.sort(key=lambda les: (not les.fixed, self._slack(les), len(les.options), les.order))
        for les in todo:
            best = None
            for opt in les.options:
                sel = self._select(les, opt)
                if sel is not None and (best is None or sel[0] < best[0]):
                    best = (sel[0], opt, sel[1])
            if best is not None:
                self._staff(les, best[1], best[2])

    def _free_up(self, m: int, d: date, depth: int, budget: list[int]) -> bool:
        """Make role model m free on date d by moves on the lessons of this run that block her: replace
        her there by a free candidate, move that lesson to another of its date options, or (depth > 1)
        replace her by a candidate who is freed the same way. Changes stay (logged) when it succeeds."""
        ledger = self.ledger
        if ledger.free(m, d):
            return True
        busy = ledger.busy_on(m, d)
        if busy is not None:
            blocking = [busy] if busy in self.runs_of[m] else []
        else:
            term = ledger.term(d)
            blocking = sorted(q for q in self.runs_of[m] if ledger.term(self.by_id[q].option.date) == term)
        for qid in blocking:
            q = self.by_id[qid]
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            here = q.option
            others = [o for o in q.members if o != m]
            found = self._best(q, here, others, exclude={m})
            if found is not None:
                self._replace(q, m, found[1])
                return True
            for other in sorted(q.options, key=lambda o: o.rank):
                if other is here:
                    continue
                checkpoint = len(self.log)
                self._unstaff(q)
                sel = self._select(q, other)
                if sel is not None:
                    self._staff(q, other, sel[1])
                    if ledger.free(m, d):
                        return True
                self._rollback(checkpoint)
            if depth > 1:
                for c in here.cands:
                    if c == m or c in others or ledger.free(c, here.date) or budget[0] <= 0:
                        continue
                    checkpoint = len(self.log)
                    if self._free_up(c, here.date, depth - 1, budget) and q.option is here and m in q.chosen and ledger.free(c, here.date):
                        self._replace(q, m, c)
                        if ledger.free(m, d):
                            return True
                    self._rollback(checkpoint)
        return False

    def _staff_by_moves(self, les: _Lesson, opt: _Option, depth: int, budget: int) -> bool:
        """Staff a lesson on an option, freeing blocked role models by moves; nothing changes if it fails."""
        checkpoint, left = len(self.log), [budget]
        for f in les.fixed:
            if not self._free_up(f, opt.date, depth, left):
                self._rollback(checkpoint)
                return False
        self._staff(les, opt, [])  # holds the fixed ones while the places are filled
        while len(les.chosen) < les.need:
            found = self._best(les, opt, les.members)
            if found is None:
                found = next(((0.0, c) for c in opt.cands if c not in les.members and self._free_up(c, opt.date, depth, left)), None)
            if found is None:
                self._rollback(checkpoint)
                return False
            self._add_member(les, found[1])
        return True

    def repair(self, depth: int = 3, budget: int = 400, rounds: int = 3) -> None:
        for _ in range(rounds):
            pending = sorted((les for les in self.lessons if les.option is None and les.options), key=lambda les: les.order)
            staffed = 0
            for les in pending:
                for opt in sorted(les.options, key=lambda o: o.rank):
                    if self._staff_by_moves(les, opt, depth, budget):
                        staffed += 1
                        break
            if not staffed:
                return

    def improve(self) -> None:
        staffed = sorted((les for les in self.lessons if les.chosen), key=lambda les: les.order)
        for _ in range(MAX_IMPROVEMENT_PASSES):
            changed = False
            for les in staffed:
                d = les.option.date
                for m in list(les.chosen):
                    others = [o for o in les.members if o != m]
                    keep = self._cost(les, m, d, others) - 2 * W_LOAD  # her cost without this lesson's share
                    found = self._best(les, les.option, others, exclude={m})
                    if found is not None and found[0] < keep - 1e-9:
                        self._replace(les, m, found[1])
                        changed = True
            if not changed:
                return

    def hold_partial(self) -> None:
        """A lesson that could not be staffed keeps its fixed role models (on the first option where they
        are free), so staff see the open place."""
        for les in self.lessons:
            if les.option is not None or not les.fixed:
                continue
            for opt in sorted(les.options, key=lambda o: o.rank):
                if all(self.ledger.free(f, opt.date) for f in les.fixed):
                    self._staff(les, opt, [])
                    break

    # -- answers ---------------------------------------------------------------------------------

    def bound_input(self) -> list[BoundLesson]:
        return [
            BoundLesson(
                les.need,
                les.fixed,
                [(o.date, o.cands) for o in les.options],
                len(les.committed) >= les.needed,
                les.option is not None and len(les.members) == les.needed,
            )  # fmt: skip
            for les in self.lessons
        ]

    def _reason(self, les: _Lesson) -> str:
        if les.reason:
            return les.reason
        if not les.options:
            return "no date option"
        most = max(len(o.cands) for o in les.options)
        if most < les.need:
            return (
                f"only {most} role model{'s' if most != 1 else ''} can give this lesson on any of its dates "
                f"({les.need} needed): availability, travel, level or lesson type"
            )
        return "the role models who could give this lesson are booked on its dates (one lesson a day, their maximum per term)"

    def plan(self, seed: int, bound: int, bound_kind: str, seconds: float, bound_seconds: float) -> LessonPlan:
        pool, ids = self.pool, self.pool.role_models
        staffings: dict[str, Staffing] = {}
        loads: defaultdict[int, int] = defaultdict(int)
        full = partial = same_field = wishes = wishes_met = 0
        kms: list[float] = []
        for les in self.lessons:
            members = les.members if les.option is not None else []
            for m in members:
                loads[m] += 1
            dist = tuple(round(les.km.get(m, 0.0), 2) for m in members)
            is_full = len(members) == les.needed
            full += is_full
            partial += bool(members) and not is_full
            if is_full:
                kms.extend(les.km.get(m, 0.0) for m in les.chosen + les.fixed)
                fields = [pool.fields[m] for m in members if pool.fields[m]]
                same_field += len(fields) != len(set(fields))
                if les.req.sector:
                    wishes += 1
                    wishes_met += any(pool.sectors[m] == les.req.sector for m in members)
            staffings[les.req.id] = Staffing(
                les.req.id,
                les.option.date if les.option else None,
                tuple(ids[m].id for m in members),
                dist,
                les.needed,
                tuple(ids[m].id for m in les.committed) if les.option else (),
                "" if is_full else self._reason(les),
            )
        eligible_anywhere = {m for les in self.lessons for o in les.options for m in o.cands}
        histogram: defaultdict[int, int] = defaultdict(int)
        for m in eligible_anywhere | set(loads):
            histogram[loads.get(m, 0)] += 1
        n = len(self.lessons)
        quality = LessonQuality(
            requests=n,
            fully_staffed=full,
            partially_staffed=partial,
            unstaffed=n - full - partial,
            fill_rate=round(full / n, 4) if n else 1.0,
            bound=bound,
            bound_kind=bound_kind,
            fill_of_bound=round(full / bound, 4) if bound else 1.0,
            role_models_used=len(loads),
            load_histogram=dict(sorted(histogram.items())),
            max_load=max(loads.values(), default=0),
            unfair_pairs=self.unfair_pairs(),
            same_field_lessons=same_field,
            sector_wishes=wishes,
            sector_wishes_met=wishes_met,
            mean_km=round(sum(kms) / len(kms), 2) if kms else None,
            max_km=round(max(kms), 2) if kms else None,
            seconds=round(seconds, 4),
            bound_seconds=round(bound_seconds, 4),
        )
        return LessonPlan(
            staffings,
            quality,
            seed,
            {"weights": {"load": W_LOAD, "sector": W_SECTOR, "same_field": W_SAME_FIELD, "option": W_OPTION, "km": W_KM}},
        )

    def unfair_pairs(self) -> int:
        """Role models the run put on a lesson while a free candidate of it has two or more lessons fewer."""
        count = 0
        for les in self.lessons:
            if not les.chosen:
                continue
            d = les.option.date
            for m in les.chosen:
                mine = self.ledger.load(m, d)
                if any(c not in les.members and self.ledger.free(c, d) and self.ledger.load(c, d) <= mine - 2 for c in les.option.cands):
                    count += 1
        return count
