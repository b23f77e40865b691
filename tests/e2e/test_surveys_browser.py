"""The pupil's main flow in headless Chromium: teacher link -> survey -> a mistake -> fixed -> thanks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from datetime import UTC, date, datetime

import httpx
import pytest

from services.surveys.app import build_app
from services.surveys.config import SurveysConfig
from tests.conftest import ADMIN
from tests.helpers import eventually, free_port
from tests.integration.surveys.helpers import Clock, group, placement, programme, publish

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"),
]


@contextlib.asynccontextmanager
async def serving(app, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), timeout=60)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_pupil_answers_her_survey_on_a_phone_in_dutch(settings, js, topology):
    from playwright.async_api import async_playwright

    port = free_port()
    settings = settings.model_copy(update={"surveys_public_url": f"http://127.0.0.1:{port}"})

    app = build_app(settings, SurveysConfig(results_interval_s=0.5), Clock(datetime(2027, 3, 20, 10, tzinfo=UTC)))
    refs = [f"pup-{i:02d}" for i in range(10)]
    async with serving(app, port) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            await publish(js, topology, programme(date(2027, 4, 8)))
            await publish(js, topology, group("g-1", "12AB", refs))
            await publish(js, topology, placement("pl-1", "g-1", "12AB", refs))
            teacher_url = (await http.get("/api/v1/admin/teacher-links/gd-2027/12AB", headers=ADMIN)).json()["url"]
            key = teacher_url.split("key=")[1]

            async def ready():
                data = (await http.get("/api/v1/teacher/gd-2027/12AB", params={"key": key})).json()
                pupils = [p for g in data["groups"] for p in g["pupils"]]
                if len(pupils) < 10:
                    return False
                return (await http.get(f"/api/v1/surveys/{pupils[0]['pre']['token']}")).status_code == 200

            await eventually(ready)

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                phone = await browser.new_context(viewport={"width": 375, "height": 740}, locale="nl-NL")
                page = await phone.new_page()
                await page.goto(teacher_url)
                assert await page.locator("h1").inner_text() == "Vragenlijsten voor je leerlingen – Girls' Day 2027"
                await page.wait_for_function(  # the QR code is a real, decoded image (not a broken link)
                    "() => { const img = document.querySelector('.slip img'); return img && img.complete && img.naturalWidth > 0 }",
                    timeout=20_000,
                )
                await page.locator("a.survey-link[data-phase=pre]").first.click()

                await page.wait_for_selector("form")
                assert await page.locator("html").get_attribute("lang") == "nl"
                no_sideways_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
                assert await page.evaluate(no_sideways_scroll)
                # answer everything except one question, with the labels a pupil sees
                for question in (
                    "Ik ben goed in technische dingen.",
                    "Ik vind techniek interessant.",
                    "Ik wil meer weten over beroepen in de techniek.",
                ):
                    await page.get_by_role("group", name=question).get_by_label("Mee eens", exact=True).check()
                await page.get_by_role("group", name="Denk je erover").get_by_label("Misschien").check()
                await page.get_by_role("button", name="Versturen").click()

                alert = page.get_by_role("alert")
                await alert.wait_for()
                assert "Nog niet alle antwoorden kloppen" in await alert.inner_text()
                missing = page.get_by_role("group", name="Als ik mijn best doe")
                assert "Deze vraag moet je nog beantwoorden." in await missing.inner_text()
                assert (
                    await page.get_by_role("group", name="Ik vind techniek interessant.").get_by_label("Mee eens", exact=True).is_checked()
                )  # earlier answers are kept
                await missing.get_by_label("Helemaal mee eens").check()
                await page.get_by_role("button", name="Versturen").click()

                await page.wait_for_selector("#message[data-code=thanks]")
                assert await page.locator("h1").inner_text() == "Bedankt!"
                await page.goto(page.url.split("?")[0])  # opening the link again
                assert "al ingevuld" in await page.locator("h1").inner_text()
            finally:
                await browser.close()
