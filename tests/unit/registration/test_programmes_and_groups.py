from datetime import UTC, date, datetime, time

import pytest

from services.registration.domain.activities import Activity, validate_activity
from services.registration.domain.errors import RegistrationClosed
from services.registration.domain.groups import Group, PupilEntry, Split, validate_group
from services.registration.domain.programmes import Programme, check_window, transition, validate_programme

UTC = UTC


def programme(**kw) -> Programme:
    base = dict(
        kind="girls_day",
        name="Girls' Day 2027",
        event_date=date(2027, 4, 8),
        opens_at=datetime(2027, 1, 1, tzinfo=UTC),
        closes_at=datetime(2027, 3, 1, tzinfo=UTC),
        status="open",
    )
    return Programme(**{**base, **kw})


def rules(violations):
    return {(v.field, v.rule) for v in violations}


def test_a_programme_whose_window_closes_before_it_opens_is_invalid():
    p = programme(opens_at=datetime(2027, 3, 2, tzinfo=UTC))
    assert ("closes_at", "window_order") in rules(validate_programme(p))


def test_a_programme_whose_deadline_is_after_the_event_is_invalid():
    p = programme(closes_at=datetime(2027, 5, 1, tzinfo=UTC))
    assert ("closes_at", "deadline_after_event") in rules(validate_programme(p))


def test_registration_after_the_deadline_is_refused_with_the_deadline():
    with pytest.raises(RegistrationClosed) as e:
        check_window(programme(), datetime(2027, 3, 1, tzinfo=UTC))
    assert e.value.reason == "deadline_passed"
    assert e.value.deadline == datetime(2027, 3, 1, tzinfo=UTC)


def test_registration_before_opening_or_while_draft_is_refused():
    with pytest.raises(RegistrationClosed):
        check_window(programme(), datetime(2026, 12, 31, tzinfo=UTC))
    with pytest.raises(RegistrationClosed):
        check_window(programme(status="draft"), datetime(2027, 2, 1, tzinfo=UTC))


def test_registration_inside_the_window_of_an_open_programme_is_allowed():
    check_window(programme(), datetime(2027, 2, 1, tzinfo=UTC))


def test_a_closed_programme_cannot_be_reopened():
    assert transition(programme(status="closed"), "open")
    assert not transition(programme(status="draft"), "open")


def test_a_group_smaller_than_the_girls_day_minimum_of_ten_is_refused():
    assert ("pupil_count", "group_below_minimum") in rules(validate_group(programme(), Group(pupil_count=9), set()))
    assert not validate_group(programme(), Group(pupil_count=10), set())


def test_preferences_naming_activities_outside_the_programme_are_refused():
    g = Group(pupil_count=12, preferred_activities=["a1", "zz"])
    assert rules(validate_group(programme(), g, {"a1", "a2"})) == {("preferred_activities.1", "activity_not_in_programme")}


def test_a_preference_ranked_twice_is_refused():
    g = Group(pupil_count=12, preferred_sectors=["ict", "ICT"])
    assert ("preferred_sectors", "duplicate_preference") in rules(validate_group(programme(), g, set()))


def test_a_split_whose_minimum_parts_cannot_fit_the_group_is_refused():
    g = Group(pupil_count=12, split=Split(True, 3, 7))
    assert ("split.min_part_size", "split_impossible") in rules(validate_group(programme(), g, set()))
    g.split = Split(True, 2, 6)
    assert not validate_group(programme(), g, set())


def test_a_group_that_may_not_be_split_has_one_part():
    g = Group(pupil_count=12, split=Split(False, 2, None))
    assert ("split.max_parts", "split_not_allowed") in rules(validate_group(programme(), g, set()))


def test_pupil_entries_are_codes_with_ages_inside_the_programme_range_and_unique():
    g = Group(pupil_count=12, pupils=[PupilEntry("p1", 11, True), PupilEntry("p1", 17), PupilEntry("Anna Jansen")])
    assert rules(validate_group(programme(), g, set())) == {
        ("pupils.1.pupil_ref", "duplicate_pupil_ref"),
        ("pupils.1.age", "age_out_of_range"),
        ("pupils.2.pupil_ref", "pupil_ref_format"),
    }


def test_pupils_rank_activities_only_in_individual_mode():
    g = Group(pupil_count=1, pupils=[PupilEntry("p1", 12, ranking=["a1"])])
    assert ("pupils.0.ranking", "ranking_needs_individual_mode") in rules(validate_group(programme(), g, {"a1"}))
    individual = programme(kind="energy_transition", allocation_mode="individual", min_group_size=1)
    assert not validate_group(individual, g, {"a1"})
    g.pupils[0].ranking = ["a1", "a9"]
    assert rules(validate_group(individual, g, {"a1"})) == {("pupils.0.ranking.1", "activity_not_in_programme")}


def activity(**kw) -> Activity:
    base = dict(
        title="Robots bouwen",
        sector="engineering",
        capacity=20,
        levels=["po", "vo"],
        min_age=10,
        max_age=14,
        starts_at=time(9),
        ends_at=time(12),
        postcode="3511ab",
    )
    return Activity(**{**base, **kw})


def test_an_activity_needs_a_capacity_above_zero():
    assert ("capacity", "capacity_positive") in rules(validate_activity(programme(), activity(capacity=0)))


def test_a_valid_activity_is_normalised():
    a = activity()
    assert validate_activity(programme(), a) == []
    assert a.postcode == "3511 AB"


def test_an_activity_with_an_unknown_sector_level_and_reversed_slot_reports_each_field():
    a = activity(sector="astrology", levels=["hbo"], starts_at=time(12), ends_at=time(9))
    assert rules(validate_activity(programme(), a)) == {
        ("sector", "sector_unknown"),
        ("levels.0", "level_unknown"),
        ("ends_at", "slot_order"),
    }
