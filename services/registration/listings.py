"""Record listings served as JSON built from cached, already serialised records.

The public activity listing of a programme is the busiest read on an opening day (every school
looks at what is on offer) and the largest: hundreds of activities, each a JSON `data` column to
decode, a response model to validate (every string checked again) and to serialise. Yet nothing
about an activity changes without its `revision` going up, and activities are never deleted. So:
- a programme's activities are in the same state as before exactly when their count and the sum
  of their revisions are (both only grow, with every insert and every change): one aggregate row
  tells whether the listing cached for the programme is still the answer;
- if not, the ids and revisions of the activities on offer, in order, say which serialised
  records to join; only records not serialised yet (new or changed) are read in full.
The database stays the truth, so this is exact with any number of replicas. A school's groups
are few: they are read in full, but each is validated and serialised once per revision too.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response
from pydantic import TypeAdapter
from sqlalchemy import bindparam, func, select

from services.registration import schemas as s
from services.registration import service as cmd
from services.registration.auth import Principal
from services.registration.store import activities, groups

STATE = select(func.count(), func.coalesce(func.sum(activities.c.revision), 0)).where(
    activities.c.programme_id == bindparam("programme_id")
)

ON_OFFER = (
    select(activities.c.id, activities.c.revision)
    .where(activities.c.programme_id == bindparam("programme_id"), activities.c.status == "registered")
    .order_by(activities.c.created_at)
)

ACTIVITIES_BY_ID = select(activities).where(activities.c.id.in_(bindparam("ids", expanding=True)))
MAX_PIECES = 200_000
MAX_LISTINGS = 1_000


class Pieces:
    """Serialised records by (id, revision), and whole listings by name with the state they show."""

    def __init__(self, model: type, out: Callable) -> None:
        self._adapter = TypeAdapter(model)
        self._out = out  # row -> the response dict, as the route's response model would get it
        self._pieces: dict[tuple[str, int], bytes] = {}
        self._listings: dict[str, tuple[tuple, bytes]] = {}

    def serialise(self, row) -> bytes:
        """The JSON of one record, exactly as the response model serialises it."""
        return self._adapter.dump_json(self._adapter.validate_python(self._out(row)))

    def piece(self, row) -> bytes:
        """`serialise(row)`, once per (id, revision)."""
        key = (row.id, row.revision)
        if (found := self._pieces.get(key)) is None:
            if len(self._pieces) >= MAX_PIECES:
                self._pieces = {}
            found = self._pieces[key] = self.serialise(row)
        return found

    def join(self, rows) -> bytes:
        """The JSON array of these full rows."""
        return b"[" + b",".join(self.piece(row) for row in rows) + b"]"

    def cached(self, name: str, state: tuple) -> bytes | None:
        found = self._listings.get(name)
        return found[1] if found is not None and found[0] == state else None

    def listing(self, conn, name: str, state: tuple, versions: list[tuple[str, int]], by_ids: Callable) -> bytes:
        """The JSON array of the records with these (id, revision), in this order, kept as the
        listing `name` in `state`; `by_ids(ids)` is the statement and parameters that read the
        rows not serialised yet."""
        known = self._pieces
        fetched: dict[str, bytes] = {}
        if missing := [v for v in versions if v not in known]:
            if len(known) + len(missing) > MAX_PIECES:
                self._pieces = known = {}
                missing = versions
            for row in conn.execute(*by_ids([v[0] for v in missing])):
                fetched[row.id] = known[(row.id, row.revision)] = self.serialise(row)
        if not all(v in known for v in versions):  # changed between the reads (PostgreSQL, read committed)
            return b"[" + b",".join(known.get(v) or fetched[v[0]] for v in versions if v in known or v[0] in fetched) + b"]"
        body = b"[" + b",".join(known[v] for v in versions) + b"]"
        if len(self._listings) >= MAX_LISTINGS:
            self._listings.clear()
        self._listings[name] = (state, body)
        return body


ACTIVITIES = Pieces(s.ActivityOut, cmd.activity_out)
GROUPS = Pieces(s.GroupOut, cmd.group_out)
GROUPS_OF_SCHOOL = select(groups).where(groups.c.school_id == bindparam("school_id")).order_by(groups.c.created_at)


def activities_on_offer(conn, programme_id: str) -> Response:
    """GET /api/programmes/{id}/activities: the registered activities of a programme, oldest first."""
    state = tuple((conn.execute(STATE, {"programme_id": programme_id})).one())
    cmd.load_programme(conn, programme_id)  # 404 for an unknown programme
    if (body := ACTIVITIES.cached(programme_id, state)) is None:
        # (id, revision) as plain tuples: they are dictionary keys below, and SQLAlchemy's rows
        # (PostgreSQL) compare in Python, ten times slower
        versions = list(map(tuple, conn.execute(ON_OFFER, {"programme_id": programme_id})))
        body = ACTIVITIES.listing(conn, programme_id, state, versions, lambda ids: (ACTIVITIES_BY_ID, {"ids": ids}))
    return Response(body, media_type="application/json")


def groups_of_school(conn, principal: Principal, school_id: str) -> Response:
    """GET /api/schools/{id}/groups: every group of the school, oldest first."""
    cmd.load_school(conn, principal, school_id)  # 404, 403
    rows = conn.execute(GROUPS_OF_SCHOOL, {"school_id": school_id})
    return Response(GROUPS.join(rows), media_type="application/json")
