from tests.helpers import eventually
from tests.integration.registration.conftest import bearer, company_body, problem, rules, school_body, stream_events


async def test_a_school_registers_once_gets_a_secret_and_its_province_from_the_postcode(api, js, topology):
    r = await api.post("/api/schools", json=school_body("12ab", postcode="3511ab"))
    assert r.status_code == 201, r.text
    school, secret = r.json()["school"], r.json()["account_secret"]
    assert (school["brin"], school["postcode"], school["province"], school["municipality"]) == ("12AB", "3511 AB", "Utrecht", "Utrecht")
    own = await api.get(f"/api/schools/{school['id']}", headers=bearer(secret))
    assert own.status_code == 200 and own.json()["contact"]["email"] == "j.devries@hetbaken.nl"

    events = await eventually(lambda: stream_events(js, topology))
    assert [e["type"] for e in events] == ["nl.vhto.girlsday.registration.school.registered.v1"]
    data = events[0]["data"]
    assert data["school_id"] == school["id"] and data["province"] == "Utrecht"
    assert (
        "j.devries" not in str(events[0])
        and "030 123 4567" not in str(events[0])
        and "de Vries" not in str(events[0])
        and "contact" not in data
    )


async def test_a_second_school_with_the_same_brin_gets_a_409_pointing_at_the_first(api):
    first, _ = await api.school("12AB")
    r = await api.post("/api/schools", json=school_body("12AB", name="Ander"))
    assert r.status_code == 409
    assert problem(r) == "duplicate_school"
    assert r.json()["existing"] == {"id": first, "href": f"/api/schools/{first}"}
    assert r.headers["location"] == f"/api/schools/{first}"


async def test_a_school_with_a_bad_brin_postcode_and_email_gets_one_422_naming_each_field_and_rule(api):
    body = school_body("1ABC", postcode="123 AB")
    body["contact"]["email"] = "geen-adres"
    r = await api.post("/api/schools", json=body)
    assert r.status_code == 422
    assert rules(r) == {("brin", "brin_format"), ("postcode", "postcode_format"), ("contact.email", "email_format")}


async def test_unknown_fields_are_refused_naming_the_field(api):
    r = await api.post("/api/schools", json=school_body(birthdate="2012-01-01"))
    assert r.status_code == 422 and rules(r) == {("birthdate", "extra_forbidden")}


async def test_a_company_registers_once_and_a_bad_kvk_or_duplicate_is_refused(api, js, topology):
    company_id, _ = await api.company("12345678")
    r = await api.post("/api/companies", json=company_body("1234567"))
    assert r.status_code == 422 and rules(r) == {("kvk", "kvk_format")}
    r = await api.post("/api/companies", json=company_body("12345678"))
    assert r.status_code == 409 and r.json()["existing"]["id"] == company_id
    r = await api.post("/api/companies", json=company_body("87654321", sectors=["astrology"]))
    assert r.status_code == 422 and rules(r) == {("sectors.0", "sector_unknown")}

    events = await eventually(lambda: stream_events(js, topology))
    assert [e["data"]["company_id"] for e in events] == [company_id]
    assert events[0]["data"]["province"] == "Noord-Brabant" and "a.jansen" not in str(events[0])


async def test_every_broken_field_of_a_school_is_named_in_one_answer(api):
    body = school_body("1ABC", name="", postcode="3012 3456", level="hbo")
    body["contact"] = {"name": "", "email": "geen-adres", "phone": "12"}
    r = await api.post("/api/schools", json=body)
    assert r.status_code == 422
    assert rules(r) == {
        ("brin", "brin_format"),
        ("name", "string_too_short"),
        ("level", "literal_error"),
        ("postcode", "postcode_format"),
        ("contact.name", "string_too_short"),
        ("contact.email", "email_format"),
        ("contact.phone", "phone_format"),
    }


async def test_every_broken_field_of_a_company_is_named_in_one_answer_and_a_kvk_with_spaces_is_accepted(api):
    r = await api.post("/api/companies", json=company_body("3012 345", name="", sectors=["ict", "astrology"], postcode="56"))
    assert r.status_code == 422
    assert rules(r) == {
        ("kvk", "kvk_format"),
        ("name", "string_too_short"),
        ("sectors.1", "sector_unknown"),
        ("postcode", "postcode_format"),
    }
    r = await api.post("/api/companies", json=company_body("3012 3456"))
    assert r.status_code == 201 and r.json()["company"]["kvk"] == "30123456"
    again = await api.post("/api/companies", json=company_body("30.12.34.56"))
    assert again.status_code == 409 and problem(again) == "duplicate_company"
