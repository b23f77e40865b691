from rich.console import Console

from services.registration.importer import import_file
from tests.helpers import eventually
from tests.integration.registration.conftest import ADMIN, stream_events

SCHOOLS = """brin;name;level;postcode;municipality;contact_name;contact_email;contact_phone
12AB;OBS De Klimop;po;1234 AB;Utrecht;Juf Ans;ans@klimop.nl;030 123 4567
1XAB;Foute School;vo;1234 AB;Utrecht;Meneer Bas;bas@fout.nl;
34CD;Het Lyceum;vo;9711 AB;Groningen;Juf Cor;cor@lyceum.nl;
56EF;De Regenboog;po;9999;Zwolle;Juf Dien;dien@regenboog.nl;
34CD;Het Lyceum (dubbel);vo;9711 AB;Groningen;Juf Cor;cor@lyceum.nl;
"""


async def test_importing_a_school_list_reports_every_row_and_importing_it_again_changes_nothing(api, js, topology):
    first = await api.post("/api/imports/schools", content=SCHOOLS.encode(), headers={**ADMIN, "content-type": "text/csv"})
    assert first.status_code == 200, first.text
    report = first.json()
    assert [(r["line"], r["status"]) for r in report["rows"]] == [
        (2, "created"),
        (3, "rejected"),
        (4, "created"),
        (5, "rejected"),
        (6, "rejected"),
    ]
    assert report["rows"][1]["errors"][0]["type"] == "brin_format"
    assert report["rows"][3]["errors"][0]["type"] == "postcode_format"
    assert report["rows"][4]["errors"][0]["type"] == "duplicate_in_file"
    assert report["rows"][0]["account_secret"].startswith("gds_")

    await eventually(lambda: _count(js, topology, 2))
    second = (await api.post("/api/imports/schools", content=SCHOOLS.encode(), headers={**ADMIN, "content-type": "text/csv"})).json()
    assert (second["created"], second["unchanged"], second["rejected"]) == (0, 2, 3)
    assert all("account_secret" not in r or r["account_secret"] is None for r in second["rows"])
    changed = SCHOOLS.replace("OBS De Klimop;", "OBS De Klimop Nieuw;")
    third = (await api.post("/api/imports/schools", content=changed.encode(), headers={**ADMIN, "content-type": "text/csv"})).json()
    assert third["rows"][0]["status"] == "conflict" and third["rows"][0]["id"] == report["rows"][0]["id"]
    assert len(await stream_events(js, topology)) == 2  # nothing new announced


async def _count(js, topology, n):
    return len(await stream_events(js, topology)) == n


async def test_a_file_without_the_required_columns_is_refused_as_a_whole(api):
    r = await api.post("/api/imports/companies", content=b"naam,plaats\nx,y\n", headers={**ADMIN, "content-type": "text/csv"})
    assert r.status_code == 200 and r.json()["file_errors"][0]["type"] == "missing_columns" and r.json()["rows"] == []


async def test_the_command_line_import_sends_chunks_keeps_file_line_numbers_and_is_repeatable(api, js, topology):
    companies = (
        "kvk,name,sectors,postcode,contact_name,contact_email\n"
        + "".join(f"{10000000 + i},Bedrijf {i},ict|energy,5612 AB,Piet,piet{i}@bedrijf.nl\n" for i in range(25))
        + "123,Kort,ict,5612 AB,Piet,p@b.nl\n"
    )
    quiet = Console(file=open("/dev/null", "w"))
    report = await import_file(api.client, "companies", companies, "test-admin-token", chunk_size=10, console=quiet)
    assert (report["created"], report["rejected"]) == (25, 1)
    assert report["rows"][-1]["line"] == 27 and report["rows"][-1]["errors"][0]["type"] == "kvk_format"
    assert [r["line"] for r in report["rows"][:25]] == list(range(2, 27))
    again = await import_file(api.client, "companies", companies, "test-admin-token", chunk_size=10, console=quiet)
    assert (again["created"], again["unchanged"], again["rejected"]) == (0, 25, 1)
    await eventually(lambda: _count(js, topology, 25))
