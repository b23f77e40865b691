"""Partner KPI events, bad input, CSV exports and the dashboard page, on a real NATS."""

import json
import uuid

from nats.js.api import ConsumerConfig

from services.reporting.app import build_app
from services.reporting.config import ReportingSettings
from services.reporting.domain.csv_export import BOM
from shared import contracts as c
from shared.envelope import CloudEvent
from tests.conftest import running
from tests.helpers import eventually

from .edition import EXPECTED_TOTALS, T0, P, edition_events, publish

FAST = ReportingSettings(kpi_interval_s=0.5, _env_file=None)
RELATIONS = [
    ("pupils_registered", ["pupils_placed", "pupils_unplaced"]),
]


def _small_province_events() -> list[CloudEvent]:
    """A school in Groningen whose 5 placed pupils must never show, not even by subtraction."""
    extra = [
        c.SchoolRegistered(school_id="s4", brin="15AB", name="D", level="po", postcode="9711 AB", province="Groningen"),
        c.GroupRegistered(group_id="g6", school_id="s4", programme_id=P, pupil_count=5, registered_at=T0),
        c.PlacementAssigned(
            placement_id="p6",
            run_id="run1",
            programme_id=P,
            group_id="g6",
            school_id="s4",
            activity_id="a2",
            company_id="c2",
            pupil_count=5,
            distance_km=3.0,
        ),
    ]
    return [CloudEvent(id=str(uuid.uuid4()), source="/test", type=d.TYPE, time=T0, data=d.model_dump(mode="json")) for d in extra]


async def _partner_messages(js, topology, durable):
    sub = await js.pull_subscribe(
        topology.subject("reporting.public.*.kpi.updated"),
        durable=durable,
        stream=topology.stream_of_service("reporting"),
        config=ConsumerConfig(ack_wait=30),
    )
    try:
        messages = await sub.fetch(100, timeout=1)
    except Exception:
        return []
    finally:
        await sub.unsubscribe()
    for msg in messages:
        await msg.ack()
    return [CloudEvent.model_validate_json(m.data) for m in messages]


async def test_partners_get_suppressed_kpis_that_never_leak_a_small_count(settings, js, topology):
    for event in edition_events() + _small_province_events():
        await publish(js, topology, event)
    received: list[CloudEvent] = []

    async with running(build_app(settings.model_copy(update={"lag_interval_s": 0.2}), FAST)) as client:

        async def all_projected():
            response = await client.get(f"/api/programmes/{P}/summary")
            return (
                response.status_code == 200
                and response.json()["totals"]["placements"] == 4
                and response.json()["totals"]["groups"] == 5
                and response.json()["surveys"]["effects"]
            )

        await eventually(all_projected, timeout=20)
        http_kpi = (await client.get(f"/api/programmes/{P}/kpi")).json()

        async def final_figures():
            received.extend(await _partner_messages(js, topology, "partner-test"))
            last = received[-1].data if received else None
            return last if last and last["figures"] == http_kpi["figures"] else None

        kpi = await eventually(final_figures, timeout=20)

        async def no_lag():
            text = (await client.get("/metrics")).text
            return 'girlsday_consumer_pending{consumer="reporting-projections-registration",service="reporting"} 0.0' in text

        await eventually(no_lag, timeout=10)
    figures = kpi["figures"]
    assert received[-1].type == c.KpiUpdated.type_name()
    assert received[-1].subject is None or P in received[-1].subject
    for name, value in figures.items():
        if isinstance(value, int) and not name.endswith("_target"):
            assert value >= 10, f"{name}={value} published"
    assert figures["placed_pupils.Groningen"] is None
    # the hidden 5 cannot be recovered as placed minus the other provinces
    provinces = [k for k in figures if k.startswith("placed_pupils.")]
    hidden = [k for k in provinces if figures[k] is None]
    assert len(hidden) >= 2 or figures["pupils_placed"] is None
    assert figures["pupils_target"] == 100
    assert "placed_pupils.Groningen" in kpi["suppressed"]


async def test_kpis_are_published_on_change_but_at_most_once_per_interval(settings, js, topology):
    slow = ReportingSettings(kpi_interval_s=30, _env_file=None)
    async with running(build_app(settings, slow)):
        for event in edition_events():
            await publish(js, topology, event)
        first = await eventually(lambda: _partner_messages(js, topology, "partner-throttle"), timeout=10)
        for event in _small_province_events():
            await publish(js, topology, event)
        await eventually(lambda: _processed_groups(settings, 5), timeout=10)
        later = await _partner_messages(js, topology, "partner-throttle")
    assert len(first) == 1 and later == []  # the change waits for the interval


async def _processed_groups(settings, n):
    from services.reporting import store
    from shared import db

    engine = db.create_engine(settings.database_url("reporting"))
    try:
        async with db.session_factory(engine)() as session:
            agg = await store.aggregates(session, P)
            return agg is not None and agg.totals["groups"] == n
    finally:
        await engine.dispose()


async def test_unknown_types_are_skipped_and_malformed_events_dead_lettered(start_service, js, topology):
    unknown = CloudEvent(id="u1", source="/test", type="nl.vhto.girlsday.registration.thing.happened.v9", time=T0, data={"x": 1})
    malformed = CloudEvent(id="m1", source="/test", type=c.GroupRegistered.type_name(), time=T0, data={"group_id": "g", "programme_id": P})
    for event in (unknown, malformed):
        await js.publish(
            topology.subject("registration.group.registered"), event.to_bytes(), stream=topology.stream_of_service("registration")
        )
    await js.publish(topology.subject("registration.group.registered"), b"not json", stream=topology.stream_of_service("registration"))
    async with start_service("reporting") as client:

        async def dead_lettered():
            info = await js.stream_info(topology.stream("DEAD_LETTER"))
            return info.state.messages == 2

        await eventually(dead_lettered)
        metrics = (await client.get("/metrics")).text
    assert 'type="nl.vhto.girlsday.registration.thing.happened.v9"' in metrics
    assert 'outcome="skipped"' in metrics
    message = await js.get_msg(topology.stream("DEAD_LETTER"), seq=1)
    reasons = [message.headers["Girlsday-Reason"], (await js.get_msg(topology.stream("DEAD_LETTER"), seq=2)).headers["Girlsday-Reason"]]
    assert any("does not match its contract" in r for r in reasons)
    assert any("not a CloudEvent" in r for r in reasons)


async def test_every_table_exports_as_csv_and_as_excel_with_dutch_settings(start_service, js, topology):
    for event in edition_events():
        await publish(js, topology, event)
    async with start_service("reporting") as client:
        await eventually(lambda: _summary_has_groups(client), timeout=20)
        plain = await client.get(f"/api/programmes/{P}/by_province.csv")
        excel = await client.get(f"/api/programmes/{P}/by_province.csv?dialect=excel-nl")
        tables = [
            await client.get(f"/api/programmes/{P}/{t}.csv")
            for t in ("summary", "targets", "by_level", "by_sector", "registrations_per_day", "survey_responses", "survey_effects")
        ]
        unknown = await client.get(f"/api/programmes/{P}/secrets.csv")
        summary_excel = await client.get(f"/api/programmes/{P}/summary.csv?dialect=excel-nl")
        dutch = {
            t: (await client.get(f"/api/programmes/{P}/{t}.csv?dialect=excel-nl&lang=nl")).content.decode("utf-8")
            for t in ("summary", "survey_responses", "by_province")
        }
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/csv")
    assert plain.text.splitlines()[0].startswith("province,schools,groups,pupils")
    assert "Fryslân,1,1,25,25,0" in plain.text
    body = excel.content.decode("utf-8")
    assert body.startswith(BOM) and "Fryslân;1;1;25;25;0" in body
    assert "placed_ratio;0,6081" in summary_excel.content.decode("utf-8")  # a decimal comma
    assert all(t.status_code == 200 and t.text for t in tables)
    assert unknown.status_code == 404
    # on a Dutch request: Dutch column names and words, invited counts and response rates per phase
    assert dutch["survey_responses"].splitlines()[0] == BOM + "vragenlijst;uitgenodigd;ingevuld;antwoorden ontvangen;respons"
    assert dutch["survey_responses"].splitlines()[1].startswith("vóór;")
    assert dutch["summary"].splitlines()[0] == BOM + "cijfer;waarde" and "\r\nleerlingen;74\r\n" in dutch["summary"]
    assert dutch["by_province"].splitlines()[0].startswith(BOM + "provincie;scholen;groepen;leerlingen")


async def _summary_has_groups(client):
    response = await client.get(f"/api/programmes/{P}/summary")
    return response.status_code == 200 and response.json()["totals"] == EXPECTED_TOTALS and response.json()["surveys"]["effects"]


async def test_the_dashboard_is_dutch_first_with_english_available(start_service, js, topology):
    for event in edition_events():
        await publish(js, topology, event)
    async with start_service("reporting") as client:
        await eventually(lambda: _summary_has_groups(client), timeout=20)
        dutch = await client.get("/")
        english = await client.get(f"/?programme={P}&lang=en")
        chart = await client.get("/static/chart.umd.min.js")
        metrics = (await client.get("/metrics")).text
    assert dutch.status_code == 200 and '<html lang="nl">' in dutch.text
    assert "Doel en realisatie" in dutch.text and "Leerlingen" in dutch.text
    assert "Target vs actual" in english.text and '<html lang="en">' in english.text
    data = json.loads(english.text.split('id="dashboard-data" type="application/json">')[1].split("</script>")[0])
    assert data["effects"] == [{"item": "interest", "label": "interest", "pre": 2.5, "post": 3.1}]
    assert chart.status_code == 200 and "Chart.js v4" in chart.text[:200]
    assert "girlsday_reporting_events_projected_total" in metrics


async def test_the_example_partner_client_catches_up_after_downtime(settings, js, topology, nats_url):
    from examples.partner_client import follow

    async def follow_once(seen):
        return await follow(
            nats_url, "partner-demo", stream=topology.stream("REPORTING"), namespace=topology.namespace, on_kpis=seen.append, once=True
        )

    first, second = [], []
    async with running(build_app(settings, FAST)):
        for event in edition_events():
            await publish(js, topology, event)
        await eventually(lambda: _programme_kpis_published(js, topology, 1), timeout=15)
        assert await follow_once(first) >= 1
        # the partner is away while more registrations come in
        for event in _small_province_events():
            await publish(js, topology, event)
        await eventually(lambda: _programme_kpis_published(js, topology, len(first) + 1, after=first), timeout=15)
    await follow_once(second)
    assert second, "the partner missed what was published while it was away"
    assert second[-1]["data"]["figures"]["pupils_registered"] == 80  # 79, rounded to 5
    assert {e["id"] for e in first}.isdisjoint({e["id"] for e in second})


async def _programme_kpis_published(js, topology, n, after=()):
    info = await js.stream_info(topology.stream("REPORTING"))
    if info.state.messages < n:
        return False
    last = await js.get_last_msg(topology.stream("REPORTING"), topology.subject(f"reporting.public.{P}.kpi.updated"))
    return json.loads(last.data)["data"]["figures"]["pupils_registered"] == 80 if after else True  # 79, rounded to 5
