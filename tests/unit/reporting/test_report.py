from services.reporting.domain.cube import fold
from services.reporting.domain.labels import format_number, labels
from services.reporting.domain.report import Aggregates, public_kpis, summary, survey_shift

CELLS = [
    {
        "province": "Utrecht",
        "level": "vo",
        "schools": 30,
        "groups": 40,
        "pupils": 800,
        "placed_pupils": 790,
        "unplaced_pupils": 10,
        "placed_groups": 39,
        "unplaced_groups": 1,
        "waitlisted_groups": 0,
        "waitlisted_pupils": 0,
        "split_groups": 2,
        "placements": 41,
    },
    {
        "province": "Zeeland",
        "level": "po",
        "schools": 2,
        "groups": 2,
        "pupils": 25,
        "placed_pupils": 4,
        "unplaced_pupils": 21,
        "placed_groups": 1,
        "unplaced_groups": 1,
        "waitlisted_groups": 1,
        "waitlisted_pupils": 12,
        "split_groups": 0,
        "placements": 1,
    },
]


def aggregates() -> Aggregates:
    totals, breakdowns, mean = fold(
        CELLS,
        [{"province": "Utrecht", "level": "vo", "distance_sum": 410.0, "distance_n": 41}],
        {"companies": 20, "activities": 30, "capacity": 900},
        {},
        {},
    )
    return Aggregates("gd", {"name": "GD", "target_pupils": 1000, "target_schools": 40, "target_companies": 25}, totals, mean, breakdowns)


def test_cells_fold_into_totals_and_breakdowns():
    agg = aggregates()
    assert agg.totals["pupils"] == 825 and agg.totals["placed_pupils"] == 794 and agg.totals["companies"] == 20
    provinces = {row["province"]: row for row in agg.breakdowns["province"]}
    assert provinces["Zeeland"]["pupils"] == 25 and provinces["Utrecht"]["mean_distance_km"] == 10.0
    assert agg.mean_distance_km == 10.0


def test_target_vs_actual_reads_like_8600_of_9500():
    report = summary(aggregates())
    assert report["targets"]["pupils"] == {"target": 1000, "actual": 825, "ratio": 0.825}


def test_public_kpis_hide_a_small_province_and_what_would_give_it_away():
    kpis = public_kpis(aggregates())
    assert kpis.figures["placed_pupils.Zeeland"] is None
    assert kpis.figures["placed_pupils.Utrecht"] is None or kpis.figures["pupils_placed"] is None
    assert kpis.figures["pupils_target"] == 1000


def test_the_survey_shift_shows_means_and_shares_and_leaves_out_suppressed_items():
    rows = survey_shift(
        {
            "interest": {"mean_pre": 2.5, "mean_post": 3.0},
            "intention": {"share_yes_pre": 0.2, "share_yes_post": 0.35},
            "tiny": {"suppressed": True},
        }
    )
    assert rows == [
        {"item": "intention", "label": "intention %", "pre": 20.0, "post": 35.0},
        {"item": "interest", "label": "interest", "pre": 2.5, "post": 3.0},
    ]


def test_numbers_are_written_the_dutch_way_in_dutch():
    assert format_number(8600, "nl") == "8.600" and format_number(8600, "en") == "8,600"
    assert format_number(12.5, "nl") == "12,5" and format_number(None, "nl") == "–"
    assert labels("fr")[0] == "nl"
