import pytest

from services.registration.domain import identifiers as ids


@pytest.mark.parametrize("given,normal", [("12AB", "12AB"), (" 12ab ", "12AB"), ("12 AB", "12AB")])
def test_a_brin_of_two_digits_and_two_letters_is_accepted_in_upper_case(given, normal):
    assert ids.brin(given) == normal


@pytest.mark.parametrize("bad", ["1AB", "123A", "12A", "AB12", "12ABC", ""])
def test_a_brin_of_another_shape_breaks_the_brin_format_rule(bad):
    with pytest.raises(ids.RuleError) as e:
        ids.brin(bad)
    assert e.value.rule == "brin_format"


def test_a_kvk_number_needs_exactly_eight_digits():
    assert ids.kvk("12345678") == "12345678"
    for bad in ("1234567", "123456789", "1234567a", "3012 345"):
        with pytest.raises(ids.RuleError) as e:
            ids.kvk(bad)
        assert e.value.rule == "kvk_format"


@pytest.mark.parametrize("given", ["3012 3456", " 3012.3456 ", "30 12 34 56"])
def test_a_kvk_number_with_the_spaces_or_dots_of_an_extract_is_stored_as_eight_digits(given):
    assert ids.kvk(given) == "30123456"


@pytest.mark.parametrize("given", ["1234AB", "1234 AB", "1234 ab"])
def test_a_dutch_postcode_is_stored_as_four_digits_space_two_letters(given):
    assert ids.postcode(given) == "1234 AB"


@pytest.mark.parametrize("bad", ["123 AB", "1234  AB", "1234-AB", "12345", "ABCD 12"])
def test_other_postcodes_break_the_postcode_rule(bad):
    with pytest.raises(ids.RuleError) as e:
        ids.postcode(bad)
    assert e.value.rule == "postcode_format"


def test_an_email_address_keeps_its_local_part_and_lowercases_the_domain():
    assert ids.email("Juf.Ans@School.NL") == "Juf.Ans@school.nl"


@pytest.mark.parametrize("bad", ["geen-at.nl", "a@b", "a b@c.nl", "@school.nl", "a@.nl", "x" * 65 + "@a.nl"])
def test_malformed_email_addresses_break_the_email_rule(bad):
    with pytest.raises(ids.RuleError) as e:
        ids.email(bad)
    assert e.value.rule == "email_format"


def test_a_pupil_code_that_contains_spaces_like_a_name_is_refused():
    assert ids.pupil_ref("p-07") == "p-07"
    with pytest.raises(ids.RuleError):
        ids.pupil_ref("Anna de Vries")
