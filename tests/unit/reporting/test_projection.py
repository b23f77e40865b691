from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.domain.facts import facts_for
from services.reporting.domain.projection import EntityState, Fact, Projection, make_version, merge
from shared import contracts as c

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def group(revision: int, pupils: int, **extra) -> c.GroupRegistered:
    return c.GroupRegistered(group_id="g1", school_id="s1", programme_id="gd26", pupil_count=pupils, revision=revision, **extra)


def edition_events():
    """(data, event id, time) of a small programme's life, in the order they happened."""
    return [
        (c.SchoolRegistered(school_id="s1", brin="12AB", name="X", level="vo", postcode="1234 AB", province="Utrecht"), "e1", T0),
        (group(1, 20), "e2", T0 + timedelta(minutes=1)),
        (c.GroupUpdated(group_id="g1", school_id="s1", programme_id="gd26", pupil_count=24, revision=2), "e3", T0 + timedelta(minutes=2)),
        (
            c.PlacementAssigned(
                placement_id="p1",
                run_id="r1",
                programme_id="gd26",
                group_id="g1",
                school_id="s1",
                activity_id="a1",
                company_id="c1",
                pupil_count=24,
                distance_km=12.5,
            ),
            "e4",
            T0 + timedelta(minutes=3),
        ),
        (
            c.PlacementCancelled(placement_id="p1", programme_id="gd26", group_id="g1", school_id="s1", activity_id="a1", pupil_count=24),
            "e5",
            T0 + timedelta(minutes=4),
        ),
        (c.GroupWithdrawn(group_id="g1", school_id="s1", programme_id="gd26", revision=3), "e6", T0 + timedelta(minutes=5)),
    ]


def project(events) -> dict:
    projection = Projection()
    for data, event_id, time in events:
        projection.apply(facts_for(data, event_id=event_id, time=time))
    return {kind: projection.of_kind(kind) for kind in ("school", "group", "placement")}


def test_events_in_their_own_order_give_the_latest_state():
    state = project(edition_events())
    assert state["group"]["g1"]["pupil_count"] == 24
    assert state["group"]["g1"]["status"] == "withdrawn"
    assert state["group"]["g1"]["registered_on"] == "2026-03-01"
    assert state["placement"]["p1"]["status"] == "cancelled"
    assert state["placement"]["p1"]["distance_km"] == 12.5


@settings(max_examples=200, deadline=None)
@given(st.permutations(range(6)), st.lists(st.integers(0, 5), max_size=6))
def test_any_order_and_any_duplication_give_the_same_state(order, duplicates):
    events = edition_events()
    shuffled = [events[i] for i in order] + [events[i] for i in duplicates]
    assert project(shuffled) == project(events)


def test_an_update_with_a_lower_revision_loses_even_when_it_arrives_last():
    late = Fact("group", "g1", {"pupil_count": 10}, make_version(1, T0, "a"))
    newer = Fact("group", "g1", {"pupil_count": 30}, make_version(2, T0 - timedelta(days=1), "b"))
    state, _ = merge(EntityState(), newer)
    state, changed = merge(state, late)
    assert state.fields["pupil_count"] == 30
    assert not changed


def test_a_duplicate_fact_changes_nothing():
    fact = Fact("school", "s1", {"province": "Utrecht"}, make_version(0, T0, "e1"))
    state, _ = merge(EntityState(), fact)
    again, changed = merge(state, fact)
    assert again == state and not changed


def test_entity_state_survives_a_json_round_trip():
    state, _ = merge(EntityState(), Fact("school", "s1", {"level": "po"}, make_version(0, T0, "x")))
    assert EntityState.from_json(state.to_json()) == state


def test_events_that_change_no_projection_give_no_facts():
    erased = c.PupilErased(pupil_ref="p-123")
    assert facts_for(erased, event_id="e", time=T0) == []
