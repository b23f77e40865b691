"""Staff run programmes from the pages: create, correct, open and close, in Dutch time, audited."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from tests.helpers import as_staff, eventually
from tests.integration.registration.conftest import ADMIN, school_body


def form(**kw) -> dict:
    day = date.today() + timedelta(days=60)
    return {
        "kind": "girls_day",
        "name": "Girls' Day 2027",
        "event_date": day.isoformat(),
        "opens_on": date.today().isoformat(),
        "opens_time": "00:00",
        "closes_on": (day - timedelta(days=10)).isoformat(),
        "closes_time": "17:00",
        "target_pupils": "9500",
        "target_schools": "220",
        "target_companies": "270",
        **kw,
    }


def programme_id(response) -> str:
    return re.search(r"/staff/programmes/([0-9a-f-]{36})", response.headers["location"]).group(1)


async def test_a_medewerker_creates_a_programme_with_dutch_times_and_opens_it_after_confirming(settings, start_service):
    async with start_service("registration") as client:
        csrf = as_staff(client, settings, "medewerker")
        r = await client.post("/staff/programmes/new", data={**form(), "_csrf": csrf})
        assert r.status_code == 303, r.text
        pid = programme_id(r)
        api = (await client.get(f"/api/programmes/{pid}")).json()
        closes = datetime.fromisoformat(api["closes_at"])
        assert closes.astimezone(UTC).hour in (15, 16)  # 17:00 in Amsterdam (winter or summer time)
        assert api["status"] == "draft" and api["targets"] == {"pupils": 9500, "schools": 220, "companies": 270}
        page = (await client.get(f"/staff/programmes/{pid}")).text
        assert "17:00" in page and "concept" in page
        confirm = (await client.get(f"/staff/programmes/{pid}/open")).text
        assert "Scholen en bedrijven kunnen zich dan aanmelden" in confirm and "17:00" in confirm
        r = await client.post(f"/staff/programmes/{pid}/open", data={"_csrf": csrf, "confirmed": "ja"})
        assert r.status_code == 303 and "done=open" in r.headers["location"]
        assert (await client.get(f"/api/programmes/{pid}")).json()["status"] == "open"
        r = await client.post(f"/staff/programmes/{pid}/open", data={"_csrf": csrf})  # twice: refused, and said so
        assert "refused=open" in r.headers["location"]
        assert "kon niet worden geopend" in (await client.get(r.headers["location"])).text


async def test_every_broken_field_is_named_at_once_beside_it(settings, start_service):
    async with start_service("registration") as client:
        csrf = as_staff(client, settings, "medewerker")
        r = await client.post(
            "/staff/programmes/new",
            data={**form(name="", event_date="31-02-2027", closes_time="25:00", target_pupils="veel"), "_csrf": csrf},
        )
        assert r.status_code == 422
        for field in ("name", "event_date", "closes_time", "target_pupils"):
            assert f'id="e-{field}"' in r.text, field
        assert 'class="error-summary"' in r.text and "een heel getal in." in r.text and "Vul de naam van het programma in." in r.text
        assert 'value="veel"' in r.text  # what was typed stays
        r = await client.post(
            "/staff/programmes/new", data={**form(closes_on=(date.today() + timedelta(days=90)).isoformat()), "_csrf": csrf}
        )
        assert r.status_code == 422 and 'id="e-closes_on"' in r.text and "op of voor de datum van de dag" in r.text


async def test_editing_an_open_programme_announces_it_again_and_shows_in_the_audit_log(settings, start_service, js, topology):
    async with start_service("registration") as client:
        csrf = as_staff(client, settings, "medewerker")
        pid = programme_id(await client.post("/staff/programmes/new", data={**form(), "_csrf": csrf}))
        await client.post(f"/staff/programmes/{pid}/open", data={"_csrf": csrf})
        r = await client.post(f"/staff/programmes/{pid}/edit", data={**form(target_pupils="10000"), "_csrf": csrf})
        assert r.status_code == 303
        assert (await client.get(f"/api/programmes/{pid}")).json()["targets"]["pupils"] == 10000
        as_staff(client, settings, "beheerder")

        async def logged():
            page = (await client.get("/staff/audit", params={"q": pid})).text
            return all(word in page for word in ("programma aangemaakt", "programma geopend", "programma gewijzigd")) and page

        page = await eventually(logged, timeout=60)
        assert "velden: target_pupils" in page


async def test_totals_count_registrations_against_targets(settings, start_service):
    async with start_service("registration") as client:
        csrf = as_staff(client, settings, "medewerker")
        pid = programme_id(await client.post("/staff/programmes/new", data={**form(), "_csrf": csrf}))
        await client.post(f"/staff/programmes/{pid}/open", data={"_csrf": csrf})
        school = (await client.post("/api/schools", json=school_body())).json()
        secret = {"Authorization": f"Bearer {school['account_secret']}"}
        r = await client.post(
            f"/api/schools/{school['school']['id']}/groups", headers=secret, json={"programme_id": pid, "pupil_count": 14}
        )
        assert r.status_code == 201, r.text
        page = (await client.get("/staff/programmes")).text
        row = re.search(r"Day 2027.*?</tr>", page, re.S).group(0)
        assert "1 / 220" in row and "14 / 9500" in row


async def test_a_kijker_sees_programmes_but_cannot_change_them(settings, start_service):
    async with start_service("registration") as client:
        r = await client.post(
            "/api/programmes",
            headers=ADMIN,
            json={
                "kind": "girls_day",
                "name": "X",
                "event_date": "2030-04-01",
                "opens_at": "2030-01-01T09:00:00+01:00",
                "closes_at": "2030-03-01T17:00:00+01:00",
            },
        )
        pid = r.json()["id"]
        csrf = as_staff(client, settings, "kijker")
        page = (await client.get("/staff/programmes")).text
        assert "X" in page and "Nieuw programma" not in page
        assert (await client.get("/staff/programmes/new")).status_code == 403
        r = await client.post(f"/staff/programmes/{pid}/open", data={"_csrf": csrf})
        assert r.status_code == 403 and "Geen toegang" in r.text
        assert (await client.get(f"/api/programmes/{pid}")).json()["status"] == "draft"
