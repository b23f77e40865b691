from services.registration.domain.imports import parse

SCHOOLS = """brin;name;level;postcode;municipality;contact_name;contact_email;contact_phone
12AB;OBS De Klimop;po;1234ab;Utrecht;Juf Ans;ans@klimop.nl;030 123 4567
1XAB;Foute School;vo;1234 AB;Utrecht;Meneer Bas;bas@fout.nl;
34CD;Het Lyceum;vo;9999;Groningen;Juf Cor;cor-at-lyceum;
12ab;OBS De Klimop dubbel;po;1234 AB;Utrecht;Juf Ans;ans@klimop.nl;
"""


def test_a_school_list_reports_each_row_as_valid_or_rejected_with_its_reasons():
    parsed = parse("school", SCHOOLS)
    by_line = {r.line: r for r in parsed.rows}
    assert by_line[2].status == "valid" and by_line[2].record.postcode == "1234 AB"
    assert [v.rule for v in by_line[3].violations] == ["brin_format"]
    assert {v.rule for v in by_line[4].violations} == {"postcode_format", "email_format"}
    assert [v.rule for v in by_line[5].violations] == ["duplicate_in_file"]


def test_a_company_list_with_commas_and_several_sectors_is_parsed():
    text = (
        "\ufeffkvk,name,sectors,postcode,contact_name,contact_email,contact_phone\n"
        '12345678,Tech BV,"ict;energy",3511 AB,Piet,piet@tech.nl,\n'
        "1234,Kort BV,ict,3511 AB,Piet,piet@kort.nl,\n"
    )
    parsed = parse("company", text)
    assert parsed.rows[0].record.sectors == ["ict", "energy"]
    assert parsed.rows[1].violations[0].rule == "kvk_format"


def test_a_file_without_the_required_columns_is_refused_as_a_whole():
    parsed = parse("school", "naam,plaats\nx,y\n")
    assert parsed.rows == [] and parsed.file_errors[0].rule == "missing_columns"
