"""Who registered: staff see, search, filter, sort and download every list; they correct a record, audited."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook

from tests.helpers import as_staff, eventually
from tests.integration.registration.conftest import ADMIN, activity_body, company_body, school_body


async def edition(client) -> str:
    now = datetime.now(UTC)
    body = {
        "kind": "girls_day",
        "name": "Girls' Day 2027",
        "event_date": (now + timedelta(days=40)).date().isoformat(),
        "opens_at": (now - timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=30)).isoformat(),
        "targets": {"pupils": 100, "schools": 5, "companies": 4},
    }
    pid = (await client.post("/api/programmes", headers=ADMIN, json=body)).json()["id"]
    await client.post(f"/api/programmes/{pid}/open", headers=ADMIN)
    for brin, name, postcode, pupils in (("12AB", "Het Baken", "3511 AB", 14), ("34CD", '=HYPERLINK("x")', "9711 AB", 22)):
        school = (await client.post("/api/schools", json=school_body(brin=brin, name=name, postcode=postcode))).json()
        secret = {"Authorization": f"Bearer {school['account_secret']}"}
        await client.post(
            f"/api/schools/{school['school']['id']}/groups", headers=secret, json={"programme_id": pid, "pupil_count": pupils}
        )
    await client.post("/api/schools", json=school_body(brin="56EF", name="De Regenboog", postcode="1012 AB"))
    company = (await client.post("/api/companies", json=company_body())).json()
    secret = {"Authorization": f"Bearer {company['account_secret']}"}
    await client.post(f"/api/companies/{company['company']['id']}/activities", headers=secret, json=activity_body(pid))
    return pid


async def test_staff_see_every_school_with_its_groups_against_the_targets_and_can_search_filter_and_sort(settings, start_service):
    async with start_service("registration") as client:
        await edition(client)
        as_staff(client, settings, "kijker")
        page = (await client.get("/staff/registrations")).text
        assert "Het Baken" in page and "De Regenboog" in page
        assert re.search(r'class="figure">2</span> scholen', page) and "36 leerlingen van de 100 (doel)" in page
        only = (await client.get("/staff/registrations", params={"status": "without"})).text
        assert "De Regenboog" in only and "Het Baken" not in only
        found = (await client.get("/staff/registrations", params={"q": "3511"})).text
        assert "Het Baken" in found and "De Regenboog" not in found
        groningen = (await client.get("/staff/registrations", params={"province": "Groningen"})).text
        assert "HYPERLINK" in groningen and "Het Baken" not in groningen
        by_pupils = (await client.get("/staff/registrations", params={"list": "groups", "sort": "pupils", "dir": "desc"})).text
        assert by_pupils.index("HYPERLINK") < by_pupils.index("Het Baken")
        assert 'aria-sort="descending"' in by_pupils
        activities = (await client.get("/staff/registrations", params={"list": "activities"})).text
        assert "Bouw je eigen robot" in activities and "TechWerk BV" in activities


async def test_every_list_downloads_as_xlsx_and_dutch_csv_with_formulas_neutralised_and_the_download_audited(settings, start_service):
    async with start_service("registration") as client:
        await edition(client)
        as_staff(client, settings, "kijker", account_id="kees")
        r = await client.get("/staff/registrations/download", params={"list": "schools", "format": "xlsx"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "scholen-girls-day-2027.xlsx" in r.headers["content-disposition"].lower()
        sheet = load_workbook(io.BytesIO(r.content)).active
        header = [c.value for c in sheet[1]]
        assert header[:3] == ["School", "BRIN", "Onderwijstype"] and "School-id" in header
        values = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert values["34CD"][0] == '=HYPERLINK("x")'  # shown as typed ...
        assert (
            sheet.cell(row=[r[1] for r in sheet.iter_rows(values_only=True)].index("34CD") + 1, column=1).data_type == "s"
        )  # ... never a formula
        r = await client.get("/staff/registrations/download", params={"list": "groups", "format": "csv"})
        assert r.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
        assert rows[0][:3] == ["School", "BRIN", "Leerlingen"] and "Mag splitsen" in rows[0]
        by_brin = {row[1]: row for row in rows[1:]}
        assert by_brin["34CD"][0] == '\'=HYPERLINK("x")' and by_brin["12AB"][rows[0].index("Mag splitsen")] == "nee"

        as_staff(client, settings, "beheerder")

        async def logged():
            page = (await client.get("/staff/audit", params={"action": "export."})).text
            return page.count("gegevens gedownload") >= 2 and page

        page = await eventually(logged, timeout=60)
        assert "tabel: schools" in page and "personal_data: True" in page


async def test_a_medewerker_corrects_a_school_every_field_checked_and_the_correction_is_in_its_history(settings, start_service):
    async with start_service("registration") as client:
        await edition(client)
        csrf = as_staff(client, settings, "medewerker")
        page = (await client.get("/staff/registrations", params={"q": "12AB"})).text
        school_id = re.search(r"/staff/registrations/schools/([0-9a-f-]{36})", page).group(1)
        detail = (await client.get(f"/staff/registrations/schools/{school_id}")).text
        assert "j.devries@hetbaken.nl" in detail and "Gegevens corrigeren" in detail
        form = {
            "name": "Het Baken",
            "brin": "12ab",
            "level": "vo",
            "postcode": "3511AB",
            "contact_name": "J. de Vries",
            "contact_email": "geen",
            "_csrf": csrf,
        }
        r = await client.post(f"/staff/registrations/schools/{school_id}", data={**form, "postcode": "99"})
        assert r.status_code == 422 and 'id="e-contact_email"' in r.text and 'id="e-postcode"' in r.text
        r = await client.post(f"/staff/registrations/schools/{school_id}", data={**form, "contact_email": "info@hetbaken.nl"})
        assert r.status_code == 303 and "done=corrected" in r.headers["location"]
        school = (await client.get(f"/api/schools/{school_id}", headers=ADMIN)).json()
        assert school["contact"]["email"] == "info@hetbaken.nl" and school["brin"] == "12AB"

        async def in_history():
            page = (await client.get(f"/staff/registrations/schools/{school_id}")).text
            return "gegevens gecorrigeerd" in page and page

        page = await eventually(in_history, timeout=60)
        assert "Test Medewerker" in page and "contact_email" in page
        as_staff(client, settings, "kijker")
        r = await client.post(f"/staff/registrations/schools/{school_id}", data={**form, "_csrf": as_staff(client, settings, "kijker")})
        assert r.status_code == 403
