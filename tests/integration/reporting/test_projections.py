"""The reporting service on a real NATS and database: a scripted edition gives exact figures,
whatever the delivery order or duplication, and a rebuild gives what live consumption gave."""

import random

from services.reporting import store
from services.reporting.domain.facts import facts_for
from services.reporting.domain.projection import Projection
from services.reporting.rebuild import rebuild
from shared import db
from tests.helpers import eventually

from .edition import (
    EXPECTED_DAYS,
    EXPECTED_PROVINCES,
    EXPECTED_SECTORS,
    EXPECTED_TOTALS,
    P,
    edition_events,
    publish,
)

EVENTS = len(edition_events())


async def _all_processed(client, expected_groups=EXPECTED_TOTALS["groups"]):
    async def check():
        response = await client.get(f"/api/programmes/{P}/summary")
        if response.status_code != 200:
            return False
        body = response.json()
        return body["totals"] == EXPECTED_TOTALS and body["surveys"]["phases"]["post"]["responses_recorded"] == 1 and body

    return await eventually(check, timeout=20)


async def _figures(client) -> dict:
    summary = (await client.get(f"/api/programmes/{P}/summary")).json()
    summary.pop("as_of")
    return {
        "summary": summary,
        **{dim: (await client.get(f"/api/programmes/{P}/breakdowns/{dim}")).json() for dim in ("province", "level", "sector")},
        "days": (await client.get(f"/api/programmes/{P}/registrations-per-day")).json(),
    }


async def _states(settings):
    engine = db.create_engine(settings.database_url("reporting"))
    try:
        async with db.session_factory(engine)() as session:
            return await store.load_states(session)
    finally:
        await engine.dispose()


async def test_a_scripted_edition_gives_exactly_the_expected_figures(start_service, js, topology):
    for event in edition_events():
        await publish(js, topology, event)
    async with start_service("reporting") as client:
        body = await _all_processed(client)
        figures = await _figures(client)
    assert body["targets"]["pupils"] == {"target": 100, "actual": 74, "ratio": 0.74}
    assert body["targets"]["schools"]["actual"] == 3 and body["targets"]["companies"]["actual"] == 2
    assert body["mean_distance_km"] == 20.0
    assert body["placed_ratio"] == round(45 / 74, 4)
    assert body["matching_run"]["placed_pupils"] == 45
    assert body["surveys"]["phases"]["pre"] == {"invited": 40, "responded": 30, "responses_recorded": 3, "response_rate": 0.75}
    assert body["surveys"]["effects"] == {"interest": {"mean_pre": 2.5, "mean_post": 3.1}}
    provinces = {row["province"]: row for row in figures["province"]}
    for name, expected in EXPECTED_PROVINCES.items():
        assert {k: provinces[name][k] for k in expected} == expected
    sectors = {row["sector"]: row for row in figures["sector"]}
    assert sectors == {name: {"sector": name, **values} for name, values in EXPECTED_SECTORS.items()}
    levels = {row["level"]: (row["schools"], row["groups"], row["pupils"]) for row in figures["level"]}
    assert levels == {"po": (1, 1, 18), "vo": (2, 3, 56)}
    assert [(d["day"], d["groups"], d["pupils"]) for d in figures["days"]] == EXPECTED_DAYS
    assert figures["days"][-1]["cumulative_pupils"] == 74


async def test_reordered_and_duplicated_delivery_gives_identical_projections(start_service, js, topology, settings):
    in_order = edition_events()
    shuffled = in_order[:]
    random.Random(7).shuffle(shuffled)
    for event in shuffled:
        await publish(js, topology, event)
    for event in random.Random(8).sample(in_order, 12):  # re-published outside JetStream's dedup
        await publish(js, topology, event, dedup=False)
    async with start_service("reporting") as client:
        await _all_processed(client)
        shuffled_figures = await _figures(client)
        metrics = (await client.get("/metrics")).text
    assert 'outcome="duplicate"' in metrics
    assert shuffled_figures["summary"]["totals"] == EXPECTED_TOTALS
    assert [(d["day"], d["groups"], d["pupils"]) for d in shuffled_figures["days"]] == EXPECTED_DAYS

    # every row equals what the events give applied once, in the order they happened
    in_memory = Projection()
    for event in in_order:
        in_memory.apply(facts_for(event.contract(), event_id=event.id, time=event.time))
    assert await _states(settings) == in_memory.entities


async def test_a_rebuild_from_the_streams_equals_the_live_projection(start_service, js, topology, settings):
    events = edition_events()
    random.Random(3).shuffle(events)
    for event in events:
        await publish(js, topology, event)
    async with start_service("reporting") as client:
        await _all_processed(client)
        live = await _figures(client)
    live_states = await _states(settings)

    result = await rebuild(settings)
    assert result.events == EVENTS and result.malformed == 0
    assert await _states(settings) == live_states
    async with start_service("reporting") as client:
        assert await _figures(client) == live


async def test_an_unknown_programme_is_a_404(start_service):
    async with start_service("reporting") as client:
        for path in ("summary", "breakdowns/province", "kpi", "summary.csv"):
            response = await client.get(f"/api/programmes/nope/{path}")
            assert response.status_code == 404, path
