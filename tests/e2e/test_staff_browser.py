"""The staff journey in headless Chromium (Debian's package, driven by Playwright): log in as the
first beheerder, create and open a programme in Dutch time, see it against its targets, read the
audit log — no curl, no UUID typed; every page checked by axe-core and photographed on a desktop
and a 375 px phone (set SCREENSHOTS=<dir> to keep the pictures)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from services.registration.app import build_app
from services.registration.staff.cli import create_account
from tests.e2e.accessibility import serious_violations
from tests.helpers import eventually, free_port
from tests.integration.registration.conftest import registration_pg, settings  # noqa: F401 - one reused database on PostgreSQL

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("SCREENSHOTS")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"),
]


@contextlib.asynccontextmanager
async def serving(settings):  # noqa: F811
    import uvicorn

    port = free_port()
    app = build_app(settings.model_copy(update={"registration_port": port, "registration_public_url": f"http://127.0.0.1:{port}"}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), timeout=60)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        await browser.close()


async def check(page, name: str) -> None:
    """No serious accessibility violation; a picture for people to look at."""
    assert await serious_violations(page) == [], name
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


async def test_a_beheerder_logs_in_creates_and_opens_a_programme_and_sees_it_in_the_audit_log(settings, js, browser):  # noqa: F811
    await create_account(settings, email="bea@vhto.nl", name="Bea Beheer", role="beheerder", password="correct horse battery staple")
    async with serving(settings) as site:
        for width, suffix in ((1280, ""), (375, "-phone")):
            if suffix and not SHOTS:
                break
            context = await browser.new_context(viewport={"width": width, "height": 900}, locale="nl-NL")
            page = await context.new_page()
            await page.goto(f"{site}/staff/programmes")  # no session: to the login, and back after it
            assert "/staff/login" in page.url
            await check(page, f"01-login{suffix}")
            await page.get_by_label("E-mailadres").fill("bea@vhto.nl")
            await page.get_by_label("Wachtwoord").fill("wrong password!!")
            await page.get_by_role("button", name="Inloggen").click()
            assert "horen niet bij een actief account" in await page.locator("#e-email").inner_text()
            await check(page, f"02-login-error{suffix}")
            await page.get_by_label("Wachtwoord").fill("correct horse battery staple")
            await page.get_by_role("button", name="Inloggen").click()
            await page.wait_for_url("**/staff/programmes")
            assert await page.get_by_role("heading", name="Programma's").is_visible()

            name = f"Girls' Day 2027{suffix}"
            await page.get_by_role("link", name="Nieuw programma").click()
            await page.get_by_role("button", name="Programma aanmaken").click()  # empty: every field named
            assert await page.locator("#error-summary").is_visible()
            await check(page, f"03-programme-errors{suffix}")
            day = date.today() + timedelta(days=60)
            await page.get_by_label("Naam").fill(name)
            await page.get_by_label("Datum van de dag").fill(day.isoformat())
            await page.get_by_label("Aanmelden kan vanaf").fill(date.today().isoformat())
            await page.get_by_label("Aanmelden sluit op").fill((day - timedelta(days=14)).isoformat())
            await page.locator("#f-closes_time").fill("17:00")
            await page.get_by_label("Doel: aantal leerlingen").fill("9500")
            await page.get_by_label("Doel: aantal scholen").fill("220")
            await page.get_by_label("Doel: aantal bedrijven").fill("270")
            await page.get_by_role("button", name="Programma aanmaken").click()
            assert "aangemaakt als concept" in await page.get_by_role("status").inner_text()
            assert "17:00" in await page.locator(".summary-list").inner_text()
            await page.get_by_role("link", name="Programma openen").click()
            assert "Scholen en bedrijven kunnen zich dan aanmelden" in await page.locator("main").inner_text()
            await check(page, f"04-open-confirm{suffix}")
            await page.get_by_role("button", name="Programma openen").click()
            assert "Het programma is open" in await page.get_by_role("status").inner_text()
            await check(page, f"05-programme{suffix}")
            await page.get_by_role("link", name="Terug naar alle programma's").click()
            assert "0 / 9500" in await page.get_by_role("row").filter(has_text=name).inner_text()
            await check(page, f"06-programmes{suffix}")

            await page.get_by_role("link", name="Logboek").click()

            async def logged(page=page):
                await page.reload()
                return "programma geopend" in await page.locator("main").inner_text()

            await eventually(logged, timeout=20, interval=0.5)
            row = page.get_by_role("row").filter(has_text="programma geopend").first
            assert "Bea Beheer" in await row.inner_text()
            await check(page, f"07-audit{suffix}")

            await page.get_by_role("link", name="English").click()
            assert await page.get_attribute("html", "lang") == "en"
            assert await page.get_by_role("heading", name="Audit log").is_visible()
            await page.get_by_role("link", name="Nederlands").click()
            await page.get_by_role("button", name="Uitloggen").click()
            assert "Je bent uitgelogd" in await page.locator("main").inner_text()
            await page.goto(f"{site}/staff/programmes")
            assert "/staff/login" in page.url
            await context.close()
