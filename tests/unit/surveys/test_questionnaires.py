import pytest

from services.surveys.catalogue import default_for, shipped
from services.surveys.domain.questionnaire import (
    InvalidAnswers,
    QuestionnaireError,
    parse_questionnaire,
    validate_answers,
)

PRE = default_for("girls_day", "pre")
POST = default_for("girls_day", "post")
GOOD = {
    "self_efficacy_good_at_tech": 4,
    "self_efficacy_solve_problem": "3",
    "interest_tech": 5,
    "interest_jobs": 1,
    "intention_technical_study": "Maybe",
}


def codes(exc):
    return {(p.item, p.code) for p in exc.value.problems}


def test_every_shipped_questionnaire_has_dutch_and_english_texts_for_both_phases():
    found = shipped()
    assert {("girls_day", "pre"), ("girls_day", "post"), ("energy_transition", "pre"), ("energy_transition", "post")} <= set(found)
    for q in found.values():
        assert q.version >= 1 and q.title["nl"] and q.title["en"]
        for item in q.items:
            assert item.text["nl"] and item.text["en"] and item.text["nl"] != item.text["en"]


def test_pre_and_post_share_the_likert_and_intention_items_so_they_can_be_paired():
    def ids(q):
        return {i.id for i in q.items if i.kind != "text"}

    assert ids(PRE) == ids(POST)
    assert {i.kind for i in PRE.items} >= {"likert", "intention"}


def test_valid_answers_are_cleaned_to_integers_and_lowercase_choices():
    assert validate_answers(PRE, GOOD) == {**GOOD, "self_efficacy_solve_problem": 3, "intention_technical_study": "maybe"}


def test_an_empty_optional_free_text_is_not_stored():
    cleaned = validate_answers(POST, {**GOOD, "liked_most": "   "})
    assert "liked_most" not in cleaned


def test_every_problem_is_reported_at_once():
    answers = {**GOOD, "interest_tech": 6, "interest_jobs": True, "intention_technical_study": "perhaps", "favourite_colour": "blue"}
    del answers["self_efficacy_good_at_tech"]
    with pytest.raises(InvalidAnswers) as exc:
        validate_answers(PRE, answers)
    assert codes(exc) == {
        ("self_efficacy_good_at_tech", "missing"),
        ("interest_tech", "out_of_range"),
        ("interest_jobs", "wrong_type"),
        ("intention_technical_study", "not_a_choice"),
        ("favourite_colour", "unknown_item"),
    }
    assert exc.value.problems[0].message("nl")


def test_likert_zero_and_non_numbers_are_refused():
    with pytest.raises(InvalidAnswers) as exc:
        validate_answers(PRE, {**GOOD, "interest_tech": 0, "interest_jobs": "veel"})
    assert codes(exc) == {("interest_tech", "out_of_range"), ("interest_jobs", "wrong_type")}


def test_free_text_longer_than_its_limit_is_refused():
    with pytest.raises(InvalidAnswers) as exc:
        validate_answers(POST, {**GOOD, "liked_most": "x" * 1001})
    assert codes(exc) == {("liked_most", "too_long")}


@pytest.mark.parametrize(
    "raw",
    [
        {"key": "x", "phase": "during", "version": 1, "title": {"nl": "t"}, "items": [{"id": "a", "kind": "likert", "text": {"nl": "a"}}]},
        {"key": "x", "phase": "pre", "version": 0, "title": {"nl": "t"}, "items": [{"id": "a", "kind": "likert", "text": {"nl": "a"}}]},
        {"key": "x", "phase": "pre", "version": 1, "title": {"nl": "t"}, "items": []},
        {"key": "x", "phase": "pre", "version": 1, "title": {"en": "t"}, "items": [{"id": "a", "kind": "likert", "text": {"nl": "a"}}]},
        {"key": "x", "phase": "pre", "version": 1, "title": {"nl": "t"}, "items": [{"id": "a", "kind": "slider", "text": {"nl": "a"}}]},
        {
            "key": "x",
            "phase": "pre",
            "version": 1,
            "title": {"nl": "t"},
            "items": [{"id": "a", "kind": "likert", "text": {"nl": "a"}}, {"id": "a", "kind": "text", "text": {"nl": "b"}}],
        },
    ],
)
def test_a_malformed_questionnaire_is_refused_with_a_reason(raw):
    with pytest.raises(QuestionnaireError):
        parse_questionnaire(raw)


def test_a_questionnaire_without_english_falls_back_to_dutch():
    q = parse_questionnaire(
        {
            "key": "x",
            "phase": "pre",
            "version": 2,
            "title": {"nl": "Titel"},
            "items": [{"id": "a", "kind": "likert", "text": {"nl": "Vraag"}}],
        }
    )
    assert q.title["en"] == "Titel" and q.items[0].text["en"] == "Vraag" and q.ref == "x.pre.v2"
