from services.reporting.domain.csv_export import BOM, to_csv
from services.reporting.domain.throttle import KpiThrottle

ROWS = [{"province": "Fryslân", "pupils": 120, "mean_km": 12.5}, {"province": "Utrecht", "pupils": 80}]


def test_plain_csv_uses_commas_and_decimal_points():
    text = to_csv(ROWS)
    assert text == "province,pupils,mean_km\r\nFryslân,120,12.5\r\nUtrecht,80,\r\n"


def test_excel_csv_for_dutch_settings_has_semicolons_decimal_commas_and_a_bom():
    text = to_csv(ROWS, dialect="excel-nl")
    assert text.startswith(BOM)
    assert text[1:].splitlines()[1] == "Fryslân;120;12,5"


def test_a_field_with_the_separator_is_quoted():
    assert to_csv([{"name": "a;b"}], dialect="excel-nl").splitlines()[1] == '"a;b"'


def test_kpis_are_published_at_once_then_at_most_once_per_interval():
    throttle = KpiThrottle(interval=10)
    throttle.offer("gd26", {"pupils": 10})
    assert throttle.due(now=0) == {"gd26": {"pupils": 10}}
    throttle.offer("gd26", {"pupils": 11})
    throttle.offer("gd26", {"pupils": 12})
    assert throttle.due(now=5) == {}
    assert throttle.next_due_in(now=5) == 5
    assert throttle.due(now=10) == {"gd26": {"pupils": 12}}


def test_unchanged_kpis_are_not_published_again():
    throttle = KpiThrottle(interval=1)
    throttle.offer("gd26", {"pupils": 10})
    throttle.due(now=0)
    throttle.offer("gd26", {"pupils": 10})
    assert throttle.due(now=100) == {}
    assert throttle.next_due_in(now=100) is None


def test_programmes_are_throttled_independently():
    throttle = KpiThrottle(interval=10)
    throttle.offer("a", 1)
    throttle.due(now=0)
    throttle.offer("a", 2)
    throttle.offer("b", 1)
    assert throttle.due(now=1) == {"b": 1}
