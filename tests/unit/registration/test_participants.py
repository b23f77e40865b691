"""The ESF+ participant register's rules (services/registration/domain/participants.py)."""

from datetime import date

from services.registration.domain.participants import (
    GENDERS,
    Participant,
    indicator_table,
    indicators,
    merge,
    validate_participant,
)

TODAY = date(2026, 12, 4)


def participant(**overrides) -> Participant:
    values = dict(
        programme_id="p1", name="Fatima Yilmaz", gender="female", target_group="career_switcher", isced="3-4",
        labour_status="employed", bsn="111222333", age_band="30-54",
    )  # fmt: skip
    return Participant(**{**values, **overrides})


def rules(p: Participant) -> dict[str, str]:
    return {v.field: v.rule for v in validate_participant(p, TODAY)}


def test_a_valid_participant_passes_and_her_bsn_is_compacted():
    p = participant(bsn="1112.22.333")
    assert rules(p) == {}
    assert p.bsn == "111222333"


def test_a_bsn_that_fails_the_eleven_test_is_refused_with_its_field():
    assert rules(participant(bsn="123456789")) == {"bsn": "bsn_invalid"}


def test_without_a_bsn_the_onderwijsnummer_must_pass_its_own_eleven_test():
    assert rules(participant(bsn=None, onderwijsnummer="101222331")) == {}
    assert rules(participant(bsn=None, onderwijsnummer="101222332")) == {"onderwijsnummer": "onderwijsnummer_invalid"}
    assert rules(participant(bsn=None, onderwijsnummer="111222333")) == {"onderwijsnummer": "onderwijsnummer_invalid"}  # a BSN, not 10...


def test_a_person_number_is_required_and_only_one_of_them():
    assert rules(participant(bsn=None)) == {"bsn": "person_number_required"}
    assert rules(participant(onderwijsnummer="101222331")) == {"onderwijsnummer": "one_person_number"}


def test_a_birth_date_that_makes_an_adult_target_group_a_child_is_refused():
    assert rules(participant(birth_date=date(2010, 5, 1))) == {"birth_date": "too_young"}
    assert rules(participant(age_band="<18")) == {"age_band": "too_young"}
    assert rules(participant(target_group="student_mbo", birth_date=date(2011, 1, 1))) == {"birth_date": "too_young"}  # 15


def test_a_student_of_sixteen_may_take_part_and_her_birth_date_is_kept():
    p = participant(target_group="student_mbo", birth_date=date(2010, 12, 4), age_band=None)  # 16 today
    assert rules(p) == {}
    assert p.age_band == "<18" and p.birth_date == date(2010, 12, 4)


def test_the_birth_date_is_not_kept_where_the_target_group_does_not_need_it():
    p = participant(birth_date=date(1970, 3, 3), age_band=None)
    assert rules(p) == {}
    assert p.age_band == "55+" and p.birth_date is None


def test_students_must_give_their_birth_date_and_nobody_is_born_in_the_future():
    assert rules(participant(target_group="student_hbo")) == {"birth_date": "required"}
    assert rules(participant(birth_date=date(2027, 1, 1))) == {"birth_date": "birth_date_implausible"}


def test_unknown_choices_are_refused_each_on_its_own_field():
    assert rules(participant(gender="x", isced="9", labour_status="retired", target_group="pupil")) == {
        "gender": "gender_unknown", "isced": "isced_unknown", "labour_status": "labour_status_unknown",
        "target_group": "target_group_unknown",
    }  # fmt: skip


def test_registering_the_same_person_twice_keeps_the_first_start_and_the_last_end():
    first = participant(first_activity=date(2026, 3, 1), last_activity=date(2026, 4, 1), activities=["a"])
    again = participant(first_activity=date(2026, 2, 1), last_activity=date(2026, 3, 15), activities=["b", "a"], isced="5-8")
    merged = merge(first, again)
    assert (merged.first_activity, merged.last_activity) == (date(2026, 2, 1), date(2026, 4, 1))
    assert merged.activities == ["a", "b"] and merged.isced == "5-8"


def test_indicators_count_the_long_term_unemployed_among_the_unemployed_and_the_self_employed_among_the_employed():
    people = [participant(labour_status=s) for s in ("long_term_unemployed", "unemployed", "self_employed", "in_education")]
    figures = indicators(people)
    assert figures["participants"] == 4
    assert (figures["status_unemployed"], figures["status_long_term_unemployed"]) == (2, 1)
    assert (figures["status_employed"], figures["status_inactive"]) == (1, 1)


def test_the_indicator_table_gives_each_gender_and_a_total_that_is_their_sum():
    people = [participant(gender=g, isced=i) for g, i in (("female", "0-2"), ("non_binary", "5-8"), ("female", "5-8"), ("male", "3-4"))]
    table = {row["indicator"]: row for row in indicator_table(people)}
    assert table["participants"] == {"indicator": "participants", "female": 2, "male": 1, "non_binary": 1, "total": 4}
    assert table["isced_5-8"]["non_binary"] == 1 and table["isced_5-8"]["total"] == 2
    assert all(row["total"] == sum(row[g] for g in GENDERS) for row in table.values())
