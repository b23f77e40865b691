"""Backfill: after a decline, a silence or a late cancellation, who could step in on that date.

Only role models who are free are offered: eligible for the lesson on its (settled) date, without
another lesson that day and under their maximum for the term. Nobody is taken off another lesson,
and the role models still on this lesson stay. Ranked like the engine: fewest lessons this school
year first, then the school's sector wish, a field different from the role models already on the
lesson, and travel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date

from .model import W_KM, W_LOAD, W_SAME_FIELD, W_SECTOR, Candidate, Commitment, LessonRequest, RoleModel, school_term
from .pool import Ledger, Pool


def backfill_candidates(
    request: LessonRequest,
    on: date,
    role_models: Sequence[RoleModel] | Pool,
    commitments: Iterable[Commitment] | Ledger = (),
    *,
    exclude: Iterable[str] = (),
    limit: int | None = None,
    term_of: Callable[[date], object] = school_term,
) -> list[Candidate]:
    """Ranked candidates for one open place of ``request`` on ``on``. ``commitments`` are every role
    model on a lesson (this one's remaining role models included); ``exclude`` those who must not be
    asked again (she declined, was released or cancelled)."""
    pool = role_models if isinstance(role_models, Pool) else Pool(role_models)
    ledger = commitments if isinstance(commitments, Ledger) else Ledger(pool, commitments, term_of)
    staying = [m for m, _ in ledger.by_request.get(request.id, [])]
    excluded = set(staying) | {pool.index[x] for x in exclude if x in pool.index}
    staying_fields = {pool.fields[m] for m in staying if pool.fields[m]}
    km = pool.distances(request)
    out: list[Candidate] = []
    for m in pool.eligible(request, on, km).tolist():
        if m in excluded or not ledger.free(m, on):
            continue
        load = ledger.load(m, on)
        same = pool.fields[m] in staying_fields
        sector = None if not request.sector else pool.sectors[m] == request.sector
        distance = float(km[m])
        cost = W_LOAD * (2 * load + 1) + W_SECTOR * (sector is False) + W_SAME_FIELD * same + W_KM * distance
        out.append(Candidate(pool.role_models[m].id, round(distance, 2), load, same, sector, round(cost, 3)))
    out.sort(key=lambda c: (c.cost, c.role_model_id))
    return out if limit is None else out[:limit]
