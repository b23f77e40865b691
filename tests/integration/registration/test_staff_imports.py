"""Staff import schools and companies from Dutch-headed Excel or CSV: a verdict per row first,
nothing stored until they confirm, no secrets in any report, the import in the audit log."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook

from tests.helpers import as_staff, eventually
from tests.integration.registration.conftest import ADMIN, school_body

SCHOOLS = [
    ["BRIN", "Naam", "Onderwijstype", "Postcode", "Plaats", "Contactpersoon", "E-mailadres", "Telefoon"],
    ["12AB", "Het Baken", "voortgezet onderwijs", "3511 AB", "Utrecht", "J. de Vries", "j.devries@hetbaken.nl", "030 123 4567"],
    ["34CD", "De Regenboog", "basisonderwijs", "9711AB", "", "Juf Dien", "dien@regenboog.nl", None],
    ["5X", "Kapotte School", "hbo", "99", "", "", "geen-adres", ""],
    ["34CD", "De Regenboog (dubbel)", "po", "9711 AB", "", "Juf Dien", "dien@regenboog.nl", ""],
    ["78GH", "Al Bekend", "vo", "3511 AB", "", "J. de Vries", "j.devries@hetbaken.nl", ""],
]


def xlsx(rows) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def preview(client, csrf: str, kind: str, name: str, content: bytes):
    return await client.post("/staff/imports", data={"kind": kind, "_csrf": csrf}, files={"file": (name, content)})


async def test_a_dutch_headed_xlsx_of_schools_is_previewed_row_by_row_and_stored_only_when_confirmed(settings, start_service):
    async with start_service("registration") as client:
        known = await client.post("/api/schools", json=school_body(brin="78GH", name="Al Bekend", level="vo"))
        assert known.status_code == 201
        csrf = as_staff(client, settings, "medewerker")
        r = await preview(client, csrf, "school", "scholen.xlsx", xlsx(SCHOOLS))
        assert r.status_code == 200, r.text
        page = r.text
        assert re.search(r'class="figure">2</span> nieuw', page) and re.search(r'class="figure">2</span> afgewezen', page)
        line4 = re.search(r'<tr><td class="num">4</td>.*?</tr>', page, re.S).group(0)
        assert (
            "afgewezen" in line4
            and "BRIN: Een BRIN-code bestaat uit 2 cijfers en 2 letters" in line4
            and "Postcode:" in line4
            and "E-mail:" in line4
        )
        assert "Staat twee keer in het bestand" in page
        assert (await client.get("/api/schools/does-not-matter", headers=ADMIN)).status_code == 404
        listing = (await client.get("/staff/registrations", params={"list": "schools"})).text
        assert "Het Baken" not in listing  # nothing stored yet

        import_id = re.search(r'action="/staff/imports/([0-9a-f-]{36})', page).group(1)
        done = await client.post(f"/staff/imports/{import_id}", data={"_csrf": csrf})
        assert done.status_code == 200 and "Import klaar" in done.text
        assert "gds_" not in done.text  # no account secret in any report
        listing = (await client.get("/staff/registrations", params={"list": "schools"})).text
        assert "Het Baken" in listing and "De Regenboog" in listing
        assert "basisonderwijs" in listing.lower() or "primair onderwijs" in listing.lower()
        again = await client.post(f"/staff/imports/{import_id}", data={"_csrf": csrf})  # a double click changes nothing
        assert again.status_code == 200 and "2 nieuw" in again.text
        assert (await client.get("/staff/registrations", params={"list": "schools"})).text.count("De Regenboog</a>") == 1

        as_staff(client, settings, "beheerder")

        async def logged():
            page = (await client.get("/staff/audit", params={"action": "import."})).text
            return "import uitgevoerd" in page and page

        page = await eventually(logged, timeout=60)
        assert "nieuw: 2" in page and "scholen.xlsx" in page


async def test_companies_from_a_dutch_excel_csv_with_sector_words(settings, start_service):
    csv_text = "KvK-nummer;Naam;Sectoren;Postcode;Contactpersoon;E-mail\r\n12345678;TechWerk BV;Techniek, Energie;5612 AB;A. Jansen;a.jansen@techwerk.nl\r\n"
    async with start_service("registration") as client:
        csrf = as_staff(client, settings, "medewerker")
        r = await preview(client, csrf, "company", "bedrijven.csv", ("\ufeff" + csv_text).encode("utf-8"))
        assert re.search(r'class="figure">1</span> nieuw', r.text), r.text
        import_id = re.search(r'action="/staff/imports/([0-9a-f-]{36})', r.text).group(1)
        await client.post(f"/staff/imports/{import_id}", data={"_csrf": csrf})
        listing = (await client.get("/staff/registrations", params={"list": "companies"})).text
        assert "TechWerk BV" in listing and "engineering, energy" in listing


async def test_a_file_that_is_not_a_table_or_misses_columns_is_explained(settings, start_service):
    async with start_service("registration") as client:
        csrf = as_staff(client, settings, "medewerker")
        r = await preview(client, csrf, "school", "foto.png", b"\x89PNG....")
        assert r.status_code == 422 and 'id="e-file"' in r.text and ".xlsx" in r.text
        r = await preview(client, csrf, "school", "scholen.xlsx", xlsx([["Naam", "Plaats"], ["Het Baken", "Utrecht"]]))
        assert "Deze kolommen ontbreken: brin, level, postcode, contact_name, contact_email" in r.text
        r = await client.post("/staff/imports", data={"_csrf": csrf})
        assert r.status_code == 422 and 'id="e-kind"' in r.text and 'id="e-file"' in r.text


async def test_a_kijker_cannot_import(settings, start_service):
    async with start_service("registration") as client:
        csrf = as_staff(client, settings, "kijker")
        assert (await client.get("/staff/imports")).status_code == 403
        assert (await preview(client, csrf, "school", "scholen.xlsx", xlsx(SCHOOLS))).status_code == 403
