"""The simulated season of bench/lessons.py: backfill delivers more, and never more than the willing
supply can staff (its hindsight bound must bound what any process delivers)."""

from bench.lessons import Rates, simulate, willing_bound
from services.matching.lessons_synthetic import season


def test_a_season_with_backfill_delivers_more_lessons_than_without_and_never_more_than_the_willing_supply_can():
    s = season(3, role_models=400, requests=120, active_share=0.35)
    rates = Rates(decline=0.15, silence=0.1, late_cancel=0.1)
    with_backfill = simulate(s, 3, rates, backfill=True)
    without = simulate(s, 3, rates, backfill=False)
    willing = willing_bound(s, 3, rates)
    assert without.delivered < with_backfill.delivered <= willing
    assert with_backfill.backfilled_places > 0 and without.backfilled_places == 0
    assert with_backfill.declines + with_backfill.silences + with_backfill.late_cancellations > 0
