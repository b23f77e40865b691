from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.domain.suppression import Relation, round_to_base, suppress


def test_counts_under_the_threshold_are_hidden():
    result = suppress({"a": 9, "b": 10, "c": 0})
    assert result.figures == {"a": None, "b": 10, "c": None}
    assert result.hidden == ["a", "c"]


def test_a_single_hidden_part_cannot_be_recomputed_from_the_total():
    result = suppress({"total": 120, "x": 3, "y": 50, "z": 67}, [Relation("total", ["x", "y", "z"])])
    assert result.figures["x"] is None
    assert result.figures["y"] is None  # the smallest other part hides too
    assert result.figures["total"] == 120 and result.figures["z"] == 67


def test_two_small_hidden_parts_whose_sum_is_small_also_hide_a_third():
    result = suppress({"total": 100, "x": 2, "y": 3, "z": 95}, [Relation("total", ["x", "y", "z"])])
    assert result.figures["z"] is None or result.figures["total"] is None


def test_an_unpublished_part_that_is_small_makes_the_total_relation_hide_more():
    result = suppress({"unplaced": 40, "waitlisted": 35}, [Relation("unplaced", ["waitlisted", "other"])], unpublished={"other": 5})
    assert result.figures["waitlisted"] is None or result.figures["unplaced"] is None


def test_published_counts_are_rounded_to_the_base_after_suppression():
    result = suppress({"small": 9, "a": 12, "b": 13, "c": 10}, base=5)
    assert result.figures == {"small": None, "a": 10, "b": 15, "c": 10}
    assert [round_to_base(n, 10) for n in (14, 15, 24, 25)] == [10, 20, 20, 30]
    assert [round_to_base(n, 1) for n in (0, 7)] == [0, 7]


def test_public_figures_are_published_as_they_are():
    assert suppress({}, public={"target": 3}).figures == {"target": 3}


def derivable_values(figures, relations, values):
    """Every single cell value an observer can pin down by one relation's subtraction."""
    found = {}
    for rel in relations:
        cells = [rel.total, *rel.parts]
        unknown = [cell for cell in cells if figures.get(cell) is None]
        if len(unknown) == 1:
            found[unknown[0]] = values[unknown[0]]
    return found


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=2, max_size=6), st.integers(0, 40))
def test_no_small_count_can_be_recomputed_by_subtraction(province_counts, unplaced):
    provinces = {f"p{i}": n for i, n in enumerate(province_counts)}
    placed = sum(province_counts)
    counts = {"registered": placed + unplaced, "placed": placed, "unplaced": unplaced, **provinces}
    relations = [Relation("registered", ["placed", "unplaced"]), Relation("placed", sorted(provinces))]
    result = suppress(counts, relations)
    for name, value in counts.items():
        if value < 10:
            assert result.figures[name] is None
    for cell, value in derivable_values(result.figures, relations, counts).items():
        assert value >= 10, f"{cell}={value} recomputable from {result.figures}"
    # nor can a small sum of hidden parts be recomputed
    for rel in relations:
        if result.figures[rel.total] is not None:
            hidden = [p for p in rel.parts if result.figures[p] is None]
            assert not hidden or sum(counts[p] for p in hidden) >= 10
