"""The main registration flows in headless Chromium (Debian's package, driven by Playwright):
a school registers in Dutch, fixes its mistakes beside the fields, adds and withdraws a group;
a company registers in English and adds an activity; an account logs in with its code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.registration.app import build_app
from tests.helpers import eventually, free_port
from tests.integration.registration.conftest import registration_pg, settings  # noqa: F401 - one reused database on PostgreSQL

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ADMIN = {"Authorization": "Bearer test-admin-token"}
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"),
]


@contextlib.asynccontextmanager
async def serving(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), timeout=60)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def site(settings, js):  # noqa: F811 - the imported fixture, used by name
    async with serving(build_app(settings)) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            now = datetime.now(UTC)
            r = await http.post(
                "/api/programmes",
                headers=ADMIN,
                json={
                    "kind": "girls_day",
                    "name": "Girls' Day 2027",
                    "event_date": (now + timedelta(days=40)).date().isoformat(),
                    "opens_at": (now - timedelta(days=1)).isoformat(),
                    "closes_at": (now + timedelta(days=30)).isoformat(),
                },
            )
            await http.post(f"/api/programmes/{r.json()['id']}/open", headers=ADMIN)
        yield base


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        await browser.close()


async def test_a_school_registers_in_dutch_fixes_errors_beside_the_fields_and_adds_then_withdraws_a_group(site, browser):
    page = await browser.new_page()
    await page.goto(site)
    assert await page.get_attribute("html", "lang") == "nl"
    await page.get_by_role("link", name="School aanmelden").click()
    await page.get_by_label("BRIN-code").fill("1ABC")
    await page.get_by_label("Naam van de school").fill("Het Baken")
    await page.get_by_label("Onderwijstype").select_option("vo")
    await page.get_by_label("Postcode").fill("3511 AB")
    await page.get_by_label("Naam contactpersoon").fill("J. de Vries")
    await page.get_by_label("E-mailadres contactpersoon").fill("geen-adres")
    await page.get_by_role("button", name="Aanmelden").click()

    brin = page.get_by_label("BRIN-code")
    assert await brin.get_attribute("aria-invalid") == "true"
    assert "e-brin" in await brin.get_attribute("aria-describedby")
    assert "2 cijfers en 2 letters" in await page.locator("#e-brin").inner_text()
    assert "geldig e-mailadres" in await page.locator("#e-contact_email").inner_text()
    assert await page.get_by_label("Naam van de school").input_value() == "Het Baken"  # kept

    await brin.fill("12AB")
    await page.get_by_label("E-mailadres contactpersoon").fill("j.devries@hetbaken.nl")
    await page.get_by_role("button", name="Aanmelden").click()
    assert await page.get_by_role("heading", name="Aanmelding gelukt").is_visible()
    secret = await page.locator("#account-secret").inner_text()
    assert secret.startswith("gds_")

    await page.get_by_role("link", name="Verder naar je overzicht").click()
    assert "Nog geen groepen aangemeld." in await page.content()
    await page.get_by_role("link", name="Groep aanmelden").click()
    await page.get_by_label("Aantal leerlingen").fill("8")
    await page.get_by_role("button", name="Aanmelden").click()
    assert "minimaal 10 leerlingen" in await page.locator("#e-pupil_count").inner_text()
    await page.get_by_label("Aantal leerlingen").fill("12")
    await page.get_by_label("Voorkeur 1").select_option("ict")
    await page.get_by_role("button", name="Aanmelden").click()
    row = page.get_by_role("row").filter(has_text="Girls' Day 2027")
    assert "Aangemeld" in await row.inner_text()
    await row.get_by_role("button", name="Terugtrekken").click()
    assert "Teruggetrokken" in await page.get_by_role("row").filter(has_text="Girls' Day 2027").inner_text()


async def test_a_company_registers_in_english_and_adds_an_activity(site, browser):
    page = await browser.new_page()
    await page.goto(f"{site}/companies/register?lang=en")
    assert await page.get_attribute("html", "lang") == "en"
    await page.get_by_label("Chamber of Commerce (KvK) number").fill("12345678")
    await page.get_by_label("Company name").fill("TechWerk BV")
    await page.get_by_label("Engineering").check()
    await page.get_by_label("Postcode").fill("5612 AB")
    await page.get_by_label("Contact name").fill("A. Jansen")
    await page.get_by_label("Contact e-mail").fill("a.jansen@techwerk.nl")
    await page.get_by_role("button", name="Register").click()
    await page.get_by_role("link", name="Continue to your overview").click()
    await page.get_by_role("link", name="Add an activity").click()
    await page.get_by_label("Title").fill("Build a robot")
    await page.get_by_label("Sector", exact=True).select_option("engineering")
    await page.get_by_label("Capacity").fill("0")
    await page.get_by_label("Primary (po)").check()
    await page.get_by_label("Start time").fill("09:30")
    await page.get_by_label("End time").fill("12:30")
    await page.get_by_label("Postcode").fill("5612 AB")
    await page.get_by_role("button", name="Register").click()
    assert "greater than 0" in await page.locator("#e-capacity").inner_text()
    await page.get_by_label("Capacity").fill("24")
    await page.get_by_role("button", name="Register").click()
    assert "Build a robot" in await page.get_by_role("table").inner_text()


async def test_an_account_logs_in_with_its_code_and_a_wrong_code_is_explained(site, browser):
    async with httpx.AsyncClient(base_url=site) as http:
        r = await http.post(
            "/api/schools",
            json={
                "brin": "34CD",
                "name": "De Regenboog",
                "level": "po",
                "postcode": "9711 AB",
                "contact": {"name": "Juf Dien", "email": "dien@regenboog.nl"},
            },
        )
        secret = r.json()["account_secret"]
    page = await browser.new_page()
    await page.goto(f"{site}/login")
    await page.get_by_label("Accountcode").fill("gds_wrong")
    await page.get_by_role("button", name="Inloggen").click()
    assert "kennen we niet" in await page.locator("#e-secret").inner_text()
    await page.get_by_label("Accountcode").fill(secret)
    await page.get_by_role("button", name="Inloggen").click()
    assert await page.get_by_role("heading", name="De Regenboog (34CD)").is_visible()
