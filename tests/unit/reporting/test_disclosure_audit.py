"""The audit finds what published figures give away: a small change between two snapshots, a
small count recomputed from a total and its parts; rounding to a base leaves it nothing."""

from services.reporting.domain.audit import audit, ranges, value_range
from services.reporting.domain.suppression import Relation, suppress

RELATIONS = [Relation("registered", ["placed", "unplaced"])]


def published(truths, base):
    return [suppress(t, RELATIONS, base=base).figures for t in truths]


def run(truths, base):
    return audit(
        published(truths, base),
        truths,
        counts_of=lambda f: sorted(f),
        relations_of=lambda f: RELATIONS,
        threshold=10,
        base=base,
        protection=5,
    )


def test_unrounded_snapshots_give_away_a_group_of_three_registering():
    truths = [{"registered": 24, "placed": 12, "unplaced": 12}, {"registered": 27, "placed": 12, "unplaced": 15}]
    found = run(truths, base=1)
    assert {(d.kind, d.figure, d.true) for d in found} == {("change", "registered", 3), ("change", "unplaced", 3)}
    assert "change of registered at #0 -> #1: true 3, worked out to 3..3" in [str(d) for d in found]


def test_a_hidden_count_recomputed_from_its_total_and_the_other_part_is_found():
    # what suppression alone would publish if the secondary step were missing
    figures = {"registered": 120, "placed": 117, "unplaced": None}
    assert ranges(figures, ["registered", "placed", "unplaced"], RELATIONS, threshold=10, base=1)["unplaced"] == (3, 3)


def test_rounded_snapshots_pin_no_small_count_or_change():
    truths = [
        {"registered": 24, "placed": 12, "unplaced": 12},
        {"registered": 27, "placed": 12, "unplaced": 15},
        {"registered": 33, "placed": 30, "unplaced": 3},
        {"registered": 34, "placed": 31, "unplaced": 3},
    ]
    assert run(truths, base=5) == []


def test_a_rounded_value_stands_for_base_many_values_never_below_the_threshold():
    assert value_range(25, threshold=10, base=5) == (23, 27)
    assert value_range(20, threshold=10, base=10) == (15, 24)
    assert value_range(10, threshold=10, base=5) == (10, 12)
    assert value_range(7, threshold=1, base=1) == (7, 7)
