import warnings

import numpy as np
import pytest
from hypothesis import given, settings

from services.matching.domain import Activity, Pupil, allocate_pupils

from .strategies import km, pupil_instances

BAND_KM = 10.0


def priority(pupils, seed):
    """The activities' ranking of pupils, by its definition: distance band, then a seeded lottery."""
    lottery = np.random.default_rng(seed).permutation(len(pupils))
    return lambda i, a: (int(km(pupils[i].lat, pupils[i].lon, a.lat, a.lon) // BAND_KM), int(lottery[i]))


def blocking_pairs(pupils, acts, assignment, seed):
    """Independent checker: a pupil and an activity she prefers to her own, which has room or
    holds a pupil it ranks below her."""
    prio = priority(pupils, seed)
    by_id = {a.id: a for a in acts}
    index = {p.id: i for i, p in enumerate(pupils)}
    holders = {a.id: [index[p] for p, x in assignment.items() if x == a.id] for a in acts}
    count = 0
    for i, p in enumerate(pupils):
        own = assignment.get(p.id)
        better = p.preferences[: p.preferences.index(own)] if own else p.preferences
        for aid in better:
            a = by_id[aid]
            if a.capacity <= 0:
                continue
            held = holders[aid]
            if len(held) < a.capacity or any(prio(i, a) < prio(j, a) for j in held):
                count += 1
    return count


@settings(max_examples=150, deadline=None)
@given(pupil_instances())
def test_deferred_acceptance_leaves_no_blocking_pair_and_never_exceeds_capacity(instance):
    pupils, acts = instance
    result = allocate_pupils(pupils, acts, seed=11, band_km=BAND_KM)
    assert blocking_pairs(pupils, acts, result.assignment, 11) == 0 == result.quality.blocking_pairs
    for a in acts:
        assert sum(1 for x in result.assignment.values() if x == a.id) <= max(0, a.capacity)
    for p in pupils:
        assert result.assignment.get(p.id) in (None, *p.preferences)


@settings(max_examples=60, deadline=None)
@given(pupil_instances())
def test_assignment_is_identical_to_the_matching_library_resident_optimal_one(instance):
    from matching.games import HospitalResident

    pupils, acts = instance
    prio = priority(pupils, 5)
    by_id = {a.id: a for a in acts}
    open_ = [a for a in acts if a.capacity > 0]  # the library cannot hold a hospital without places
    ids = {a.id for a in open_}
    resident_prefs = {p.id: [x for x in p.preferences if x in ids] for p in pupils}
    resident_prefs = {k: v for k, v in resident_prefs.items() if v}
    hospital_prefs = {a.id: sorted((r for r, v in resident_prefs.items() if a.id in v), key=lambda r: prio(int(r[1:]), a)) for a in open_}
    capacities = {a.id: a.capacity for a in open_}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        game = HospitalResident.create_from_dictionaries(resident_prefs, hospital_prefs, capacities)
        solution = game.solve(optimal="resident") if resident_prefs else {}
    theirs = {r.name: h.name for h, rs in solution.items() for r in rs}
    ours = allocate_pupils(pupils, acts, seed=5, band_km=BAND_KM).assignment
    assert ours == theirs
    assert all(by_id[a].capacity > 0 for a in ours.values())


@settings(max_examples=40, deadline=None)
@given(pupil_instances())
def test_the_same_seed_gives_the_same_assignment(instance):
    pupils, acts = instance
    assert allocate_pupils(pupils, acts, seed=2).assignment == allocate_pupils(pupils, acts, seed=2).assignment


@settings(max_examples=80, deadline=None)
@given(pupil_instances())
def test_max_placed_option_places_at_least_as_many_and_counts_its_blocking_pairs(instance):
    pupils, acts = instance
    stable = allocate_pupils(pupils, acts, seed=4, band_km=BAND_KM)
    more = allocate_pupils(pupils, acts, seed=4, band_km=BAND_KM, max_placed=True)
    assert more.quality.placed_pupils >= stable.quality.placed_pupils
    assert more.quality.blocking_pairs == blocking_pairs(pupils, acts, more.assignment, 4)
    for a in acts:
        assert sum(1 for x in more.assignment.values() if x == a.id) <= max(0, a.capacity)


@settings(max_examples=60, deadline=None)
@given(pupil_instances())
def test_one_part_per_pupil_gives_the_same_assignment_with_each_pupils_own_rank_and_distance(instance):
    pupils, acts = instance
    grouped = allocate_pupils(pupils, acts, seed=5)
    single = allocate_pupils(pupils, acts, seed=5, part_per_pupil=True)
    assert single.assignment == grouped.assignment and single.waitlist == grouped.waitlist
    assert sorted(r for p in single.parts for r in p.pupil_refs) == sorted(r for p in grouped.parts for r in p.pupil_refs)
    where = {a.id: a for a in acts}
    by_ref = {p.ref or p.id: p for p in pupils}
    for part in single.parts:
        (ref,) = part.pupil_refs
        pupil = by_ref[ref]
        assert part.pupils == 1 and part.group_id == (pupil.group_id or pupil.id)
        assert part.rank == list(dict.fromkeys(pupil.preferences)).index(part.activity_id)
        a = where[part.activity_id]
        assert part.distance_km == pytest.approx(km(pupil.lat, pupil.lon, a.lat, a.lon), abs=0.01)


def test_closer_pupil_wins_the_last_place():
    acts = [Activity("lab", 1, 52.0, 5.0)]
    pupils = [Pupil("far", 52.5, 5.0, ("lab",)), Pupil("near", 52.01, 5.0, ("lab",))]
    for seed in range(5):
        result = allocate_pupils(pupils, acts, seed=seed)
        assert result.assignment == {"near": "lab"} and "full" in result.waitlist["far"]


def test_a_run_before_any_activity_is_known_waitlists_every_pupil_instead_of_failing():
    # A run may start while the read model holds the pupils but no activity yet.
    result = allocate_pupils([Pupil("a", 52.0, 5.0, ("lab",)), Pupil("b", 52.1, 5.0, ())], [], seed=1)
    assert result.assignment == {} and set(result.waitlist) == {"a", "b"}
    assert result.quality.blocking_pairs == 0


def test_pupils_with_the_same_school_code_in_different_groups_are_placed_and_waitlisted_each_on_their_own():
    # Pupil codes are unique only within a group: the engine tells pupils apart by their ids
    # ("<group>/<code>" in the service) and hands the codes back in the placements.
    acts = [Activity("lab", 1, 52.0, 5.0)]
    pupils = [Pupil("gA/2b-01", 52.0, 5.0, ("lab",), "gA", ref="2b-01"),
              Pupil("gB/2b-01", 52.5, 5.0, ("lab",), "gB", ref="2b-01"),
              Pupil("gC/2b-01", 52.6, 5.0, ("lab",), "gC", ref="2b-01")]  # fmt: skip
    result = allocate_pupils(pupils, acts, seed=3)
    assert result.assignment == {"gA/2b-01": "lab"}
    assert set(result.waitlist) == {"gB/2b-01", "gC/2b-01"}
    assert all("full" in why for why in result.waitlist.values())
    assert [(p.group_id, p.activity_id, p.pupil_refs) for p in result.parts] == [("gA", "lab", ("2b-01",))]
    assert result.quality.placed_pupils == 1 and result.quality.unplaced_pupils == 2


def test_a_pupil_without_a_separate_code_is_named_by_her_id_in_the_placements():
    result = allocate_pupils([Pupil("p1", 52.0, 5.0, ("lab",), "g")], [Activity("lab", 1, 52.0, 5.0)])
    assert [p.pupil_refs for p in result.parts] == [("p1",)]


def test_two_pupils_with_the_same_id_are_refused_rather_than_one_silently_lost():
    acts = [Activity("lab", 1, 52.0, 5.0)]
    twins = [Pupil("2b-01", 52.5, 5.0, ("lab",), "gA"), Pupil("2b-01", 52.6, 5.0, ("lab",), "gB")]
    with pytest.raises(ValueError, match="2b-01"):
        allocate_pupils(twins, acts)
