"""Disclosure control, proven by replay: a scripted edition goes through the real reporting service
step by step; after each step the public figures (the partner events, and the same figures over
HTTP) are taken with the truth behind them, and the audit (services/reporting/domain/audit.py)
replays every snapshot: no count below the threshold can be worked out from one figure, from sums
and margins, or from the difference of any two snapshots. The same steps published the old way
(suppression without rounding) give small counts away, so the audit is not blind."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from services.reporting import store
from services.reporting.app import build_app
from services.reporting.config import ReportingSettings
from services.reporting.domain import report
from services.reporting.domain.audit import audit
from shared import contracts as c
from shared.envelope import CloudEvent
from tests.conftest import running
from tests.helpers import eventually

from .edition import publish
from .test_partner_events_and_exports import _partner_messages

P = "gd-sdc"
T0 = datetime(2026, 2, 2, 9, tzinfo=UTC)
THRESHOLD, BASE, PROTECTION = 10, 5, 5


def school(school_id: str, province: str) -> c.SchoolRegistered:
    return c.SchoolRegistered(
        school_id=school_id, brin=f"{10 + len(school_id)}AB", name=school_id, level="vo", postcode="3511 AB", province=province
    )


def group(group_id: str, school_id: str, pupils: int, revision: int = 1, kind=c.GroupRegistered) -> c.GroupRegistered:
    return kind(group_id=group_id, school_id=school_id, programme_id=P, pupil_count=pupils, revision=revision, registered_at=T0)


def placed(placement_id: str, group_id: str, school_id: str, activity_id: str, pupils: int) -> c.PlacementAssigned:
    return c.PlacementAssigned(
        placement_id=placement_id,
        run_id="run-1",
        programme_id=P,
        group_id=group_id,
        school_id=school_id,
        activity_id=activity_id,
        company_id="c-" + activity_id,
        pupil_count=pupils,
        distance_km=12.0,
    )


def activity(activity_id: str, province: str, capacity: int) -> list[c.Contract]:
    company = c.CompanyRegistered(
        company_id="c-" + activity_id, kvk="1234567" + activity_id[-1], name="Bedrijf", postcode="3511 AB", province=province
    )
    return [
        company,
        c.ActivityRegistered(
            activity_id=activity_id,
            company_id=company.company_id,
            programme_id=P,
            title="Lab",
            sector="energie",
            capacity=capacity,
            postcode="3511 AB",
        ),
    ]


def steps() -> list[c.Contract]:
    """An edition in the order things happen, one event a step (so every state the publisher can
    see is a step's), with the issue's cases: a school in Zeeland with two groups of 7 pupils in
    all, and a group of 3 that takes pupils_registered from 24 to 27."""
    opened = c.ProgrammeOpened(
        programme_id=P,
        kind="girls_day",
        name="Girls' Day SDC",
        event_date=date(2026, 4, 9),
        registration_opens=T0,
        registration_closes=T0 + timedelta(days=40),
        target_pupils=120,
        target_schools=8,
        target_companies=4,
        allocation_mode="groups",
        min_group_size=1,
        min_age=10,
        max_age=15,
    )
    return [
        opened,
        school("s-utr", "Utrecht"),
        school("s-ame", "Utrecht"),
        school("s-zld", "Zeeland"),
        school("s-frl", "Fryslân"),
        *activity("a-1", "Utrecht", 40),
        *activity("a-2", "Zeeland", 12),
        group("g-1", "s-utr", 20),
        group("g-2", "s-ame", 4),  # 24
        group("g-3", "s-zld", 3),  # 24 -> 27: a group of 3
        group("g-4", "s-zld", 4),  # Zeeland: two groups, 7 pupils
        placed("p-1", "g-1", "s-utr", "a-1", 20),
        placed("p-2", "g-2", "s-ame", "a-1", 4),
        placed("p-3", "g-3", "s-zld", "a-2", 3),
        group("g-1", "s-utr", 22, revision=2, kind=c.GroupUpdated),  # two more pupils
        c.GroupWaitlisted(programme_id=P, group_id="g-4", school_id="s-zld", pupil_count=4),
        group("g-5", "s-frl", 12),
        placed("p-5", "g-5", "s-frl", "a-1", 12),
        c.GroupWithdrawn(group_id="g-2", school_id="s-ame", programme_id=P, revision=2),
        group("g-6", "s-ame", 9),
        placed("p-6", "g-6", "s-ame", "a-1", 9),
        *(c.ResponseRecorded(response_id=f"r{i}", programme_id=P, phase="pre", school_id="s-utr") for i in range(8)),
        c.ResultsUpdated(programme_id=P, invited={"pre": 43}, responded={"pre": 8}),
        c.ResultsUpdated(programme_id=P, invited={"pre": 43}, responded={"pre": 11}),
    ]


async def test_no_small_count_can_be_worked_out_from_any_published_snapshot(settings, js, topology):
    fast = ReportingSettings(kpi_interval_s=0, suppression_threshold=THRESHOLD, rounding_base=BASE, _env_file=None)
    app = build_app(settings, fast)
    runtime = app.state.runtime
    snapshots, truths, unrounded, events = [], [], [], []
    async with running(app) as client:
        for number, data in enumerate(steps()):
            event = CloudEvent(
                id=str(uuid.uuid4()), source="/test", type=data.TYPE, time=T0 + timedelta(minutes=number), data=data.model_dump(mode="json")
            )
            await publish(js, topology, event)
            await eventually(lambda: _consumed(js, topology), timeout=20)
            async with runtime.sessions() as session:
                agg = await store.aggregates(session, P)
            answer = (await client.get(f"/api/programmes/{P}/kpi")).json()
            assert answer["rounding_base"] == BASE and answer["threshold"] == THRESHOLD
            snapshots.append(answer["figures"])
            truths.append(report.kpi_counts(agg))
            unrounded.append(report.public_kpis(agg, THRESHOLD, base=1).figures)
        events = await eventually(lambda: _events_until(js, topology, snapshots[-1]), timeout=20)

    registered = [t["pupils_registered"] for t in truths]
    before = registered.index(24)
    assert registered[before + 1] == 27
    # every partner event carries figures some step also showed over HTTP: the audit covers both
    assert events and all(e in snapshots for e in events)
    counts_of, relations_of = report.public_count_names, report.kpi_relations
    found = audit(snapshots, truths, counts_of, relations_of, threshold=THRESHOLD, base=BASE, protection=PROTECTION)
    assert found == [], "\n".join(map(str, found))
    # published the old way (no rounding), the same edition gives small counts away
    old = audit(unrounded, truths, counts_of, relations_of, threshold=THRESHOLD, base=1, protection=PROTECTION)
    assert any(
        d.kind == "change" and d.figure == "pupils_registered" and d.snapshots == (before, before + 1) and d.true == 3 for d in old
    ), old


async def _consumed(js, topology) -> bool:
    for stream in ("REGISTRATION", "MATCHING", "SURVEYS"):
        for info in await js.consumers_info(topology.stream(stream)):
            if info.num_pending or info.num_ack_pending:
                return False
    return True


async def _events_until(js, topology, last: dict) -> list[dict] | None:
    events = [
        e.data["figures"] for e in await _partner_messages(js, topology, f"audit-{uuid.uuid4().hex[:6]}") if e.data["programme_id"] == P
    ]
    return events if events and events[-1] == last else None
