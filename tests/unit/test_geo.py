import pytest

from shared import geo


@pytest.mark.parametrize("text", ["1011 AB", "1011AB", "1011", " 1011 ab "])
def test_every_postcode_spelling_locates_the_same_place(text):
    place = geo.locate(text)
    assert place is not None
    assert (place.locality, place.province, place.postcode) == ("Amsterdam", "Noord-Holland", "1011")
    assert abs(place.lat - 52.37) < 0.05 and abs(place.lon - 4.89) < 0.05
    assert not place.approximate and place.method == "locality"


@pytest.mark.parametrize("text", ["", "abc", "0123 AB", "12345", "1234 A", None])
def test_malformed_postcode_is_refused_not_guessed(text):
    assert geo.locate(text) is None
    assert geo.lookup(text).reason == "malformed"
    with pytest.raises(geo.InvalidPostcode):
        geo.normalise_postcode(text)


def test_postcode_missing_from_the_data_is_unknown():
    result = geo.lookup("1000 AA")  # a PO-box range, not an area in the data
    assert result.place is None and result.reason == "unknown_postcode"


def test_homonym_town_is_located_in_its_own_province():
    overijssel, gelderland = geo.locate("7551"), geo.locate("7255")
    assert overijssel.locality == "Hengelo" and gelderland.locality.startswith("Hengelo")
    assert overijssel.province == "Overijssel" and gelderland.province == "Gelderland"
    assert geo.distance_km(overijssel, gelderland) > 20


def test_namesake_far_from_the_postcode_region_is_not_taken():
    place = geo.locate("2761")  # Zevenhuizen near Rotterdam; geonames only knows the one in Gelderland
    assert place.approximate and place.province == "Zuid-Holland"
    assert geo.distance_km(place, (52.01, 4.58)) < 10


def test_village_too_small_for_the_gazetteer_is_flagged_as_approximate():
    place = geo.locate("1153")  # Zuiderwoude, near Broek in Waterland
    assert place.locality == "Zuiderwoude" and place.approximate
    assert place.method == "postcode_area" and place.uncertainty_km > 0
    assert geo.distance_km(place, (52.42, 5.02)) < 10


def test_every_located_postcode_lies_in_the_netherlands_near_its_region():
    places = [geo.locate(code) for code in geo.known_postcodes()]
    assert len(places) == 4072
    assert all(50.7 < p.lat < 53.6 and 3.3 < p.lon < 7.3 for p in places)
    assert sum(p.approximate for p in places) < 0.3 * len(places)


def test_distance_between_amsterdam_and_utrecht_is_about_35_km():
    assert geo.distance_km(geo.locate("1011"), geo.locate("3511")) == pytest.approx(35, abs=2)
    assert geo.distance_km((52.0, 5.0), (52.0, 5.0)) == 0
