"""An upper bound on the lessons any assignment can staff fully, so the fill rate can be judged.

``alone``: lessons that could be staffed if they were the only ones (enough eligible role models
free on one date option, given the commitments). ``lp``: the LP relaxation of the assignment —
x[l,d] (lesson l held on date option d), y[l,d,m] (role model m on it) in [0, 1]; one option per
lesson; y = x for fixed role models and sum of the others' y = places * x; y <= x; one lesson a day
and at most her remaining maximum per term for every role model. Its optimum, rounded down, bounds
every integer assignment and is never above ``alone``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import numpy as np

from .pool import Ledger, Pool

LP_MAX_PAIRS = 400_000  # above this many (option, role model) pairs the LP is skipped


@dataclass(frozen=True, slots=True)
class BoundLesson:
    need: int  # places the engine fills (without fixed and committed role models)
    fixed: list[int]
    options: list[tuple[date, list[int]]]  # date, eligible role models
    full: bool  # the commitments staff it already
    staffed: bool = False  # the engine staffed it fully


def staffing_bound(lessons: list[BoundLesson], pool: Pool, ledger: Ledger, lp: bool = True) -> tuple[int, str]:
    full = sum(les.full for les in lessons)
    open_: list[tuple[BoundLesson, list[tuple[date, list[int]]]]] = []
    for les in lessons:
        if les.full:
            continue
        opts = []
        for d, cands in les.options:
            if all(ledger.free(f, d) for f in les.fixed):
                free = [m for m in cands if ledger.free(m, d)]
                if len(free) >= les.need:
                    opts.append((d, free))
        if opts:
            open_.append((les, opts))
    alone = full + len(open_)
    if not lp or not open_:
        return alone, "alone"
    # The LP falls apart into groups of lessons that share a role model on a constraint that can bind;
    # a group whose every lesson the engine staffed is at its bound already, so only the others are solved.
    needy = _groups_with_unstaffed(open_, pool, ledger)
    pairs = sum(len(free) + len(les.fixed) for les, opts in needy for _, free in opts)
    if pairs > LP_MAX_PAIRS:
        return alone, "alone"
    return alone - len(needy) + (_lp(needy, pool, ledger) if needy else 0), "lp"


def _groups_with_unstaffed(open_, pool: Pool, ledger: Ledger):
    parent = list(range(len(open_)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    day: defaultdict[tuple[int, date], list[int]] = defaultdict(list)
    term: defaultdict[tuple[int, object], list[int]] = defaultdict(list)
    for i, (les, opts) in enumerate(open_):
        for d, free in opts:
            t = ledger.term(d)
            for m in les.fixed + free:
                day[(m, d)].append(i)
                term[(m, t)].append(i)
    binding = [v for v in day.values() if len(v) > 1]
    binding += [v for (m, t), v in term.items() if len(v) > pool.max_per_term[m] - ledger.term_count.get((m, t), 0)]
    for lessons in binding:
        root = find(lessons[0])
        for i in lessons[1:]:
            parent[find(i)] = root
    unstaffed_roots = {find(i) for i, (les, _) in enumerate(open_) if not les.staffed}
    return [item for i, item in enumerate(open_) if find(i) in unstaffed_roots]


def _lp(open_: list[tuple[BoundLesson, list[tuple[date, list[int]]]]], pool: Pool, ledger: Ledger) -> int:
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    n_x = sum(len(opts) for _, opts in open_)
    rows_ub: list[int] = []
    cols_ub: list[int] = []
    vals_ub: list[float] = []
    rhs_ub: list[float] = []
    rows_eq: list[int] = []
    cols_eq: list[int] = []
    vals_eq: list[float] = []
    day_use: defaultdict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)  # (m, date) -> (column, coefficient)
    term_use: defaultdict[tuple[int, object], list[tuple[int, float]]] = defaultdict(list)
    j, col = 0, n_x  # x columns first, then y
    for les, opts in open_:
        one_option = len(rhs_ub)
        rhs_ub.append(1.0)
        for d, free in opts:
            rows_ub.append(one_option)
            cols_ub.append(j)
            vals_ub.append(1.0)
            key_d, term = d.toordinal(), ledger.term(d)
            for f in les.fixed:  # y = x: a fixed role model uses her day and term when the option is taken
                day_use[(f, key_d)].append((j, 1.0))
                term_use[(f, term)].append((j, 1.0))
            places = j  # this option's equality row: sum of the others' y = places * x
            rows_eq.append(places)
            cols_eq.append(j)
            vals_eq.append(-float(les.need))
            for m in free:
                rows_eq.append(places)
                cols_eq.append(col)
                vals_eq.append(1.0)
                _row(rows_ub, cols_ub, vals_ub, rhs_ub, [(col, 1.0), (j, -1.0)], 0.0)  # y <= x
                day_use[(m, key_d)].append((col, 1.0))
                term_use[(m, term)].append((col, 1.0))
                col += 1
            j += 1
    r_eq = j
    for uses in day_use.values():
        if len(uses) > 1:
            _row(rows_ub, cols_ub, vals_ub, rhs_ub, uses, 1.0)
    for (m, term), uses in term_use.items():
        room = pool.max_per_term[m] - ledger.term_count.get((m, term), 0)
        if len(uses) > room:
            _row(rows_ub, cols_ub, vals_ub, rhs_ub, uses, float(room))
    n = col
    a_ub = coo_matrix((vals_ub, (rows_ub, cols_ub)), shape=(len(rhs_ub), n)).tocsr()
    a_eq = coo_matrix((vals_eq, (rows_eq, cols_eq)), shape=(r_eq, n)).tocsr()
    cost = np.zeros(n)
    cost[:n_x] = -1.0
    res = linprog(cost, A_ub=a_ub, b_ub=rhs_ub, A_eq=a_eq, b_eq=np.zeros(r_eq), bounds=(0, 1), method="highs")
    if res.status != 0:
        return len(open_)
    return min(len(open_), math.floor(-res.fun + 1e-6))


def _row(rows, cols, vals, rhs, uses, bound) -> None:
    r = len(rhs)
    for c, v in uses:
        rows.append(r)
        cols.append(c)
        vals.append(v)
    rhs.append(bound)
