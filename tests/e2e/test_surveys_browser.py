"""The teacher's and the pupil's flow in headless Chromium: the teacher page names the school and its
class, prints each phase on its own sheets with every link inside its slip and marks pupils without
consent; a pupil answers on a 375 px phone (the five-point scale in one row), forgets a question and
is told which; the teacher page shows the new response rate without a reload."""

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
from shared.contracts import SchoolRegistered
from tests.conftest import ADMIN
from tests.helpers import eventually, free_port
from tests.integration.surveys.helpers import Clock, group, placement, programme, publish

SHOTS = os.environ.get("GIRLSDAY_SCREENSHOTS")  # a directory to keep the screenshots in (to look at them)


async def shot(page, tmp_path, name: str, **kw) -> None:
    path = os.path.join(SHOTS or str(tmp_path), f"{name}.png")
    await page.screenshot(path=path, full_page=True, **kw)


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


async def test_a_teacher_prints_the_slips_and_a_pupil_answers_her_survey_on_a_phone_in_dutch(settings, js, topology, tmp_path, monkeypatch):
    from playwright.async_api import async_playwright

    from services.surveys import pages

    monkeypatch.setattr(pages, "TEACHER_REFRESH_MS", 500)
    port = free_port()
    settings = settings.model_copy(update={"surveys_public_url": f"http://127.0.0.1:{port}"})

    app = build_app(settings, SurveysConfig(results_interval_s=0.5), Clock(datetime(2027, 3, 20, 10, tzinfo=UTC)))
    refs = [f"2b-{i:02d}" for i in range(1, 11)]
    async with serving(app, port) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            await publish(js, topology, programme(date(2027, 4, 8)))
            await publish(js, topology, SchoolRegistered(school_id="12AB", brin="12AB", name="Het Baken", level="vo", postcode="3511 AB"))
            await publish(js, topology, group("g-1", "12AB", refs, no_consent=("2b-10",)).model_copy(update={"grades": ["klas 2b"]}))
            await publish(js, topology, placement("pl-1", "g-1", "12AB", refs))
            teacher_url = (await http.get("/api/v1/admin/teacher-links/gd-2027/12AB", headers=ADMIN)).json()["url"]
            key = teacher_url.split("key=")[1]

            async def ready():
                data = (await http.get("/api/v1/teacher/gd-2027/12AB", params={"key": key})).json()
                pupils = [p for g in data["groups"] for p in g["pupils"]]
                if len(pupils) < 10 or data["school_name"] is None or data["groups"][0]["name"] is None:
                    return False
                return (await http.get(f"/api/v1/surveys/{pupils[0]['pre']['token']}")).status_code == 200

            await eventually(ready)

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                desk = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
                teacher = await desk.new_page()
                await teacher.goto(teacher_url)
                assert await teacher.locator("h1").inner_text() == "Vragenlijsten voor de leerlingen van Het Baken"
                text = await teacher.locator("main").inner_text()
                assert "klas 2b" in text and "g-1" not in text and "12AB" not in text  # names, never ids
                buttons = teacher.locator("button")
                assert await buttons.first.inner_text() == "Strookjes vóór afdrukken"  # the print buttons come first
                assert await teacher.locator('[data-rate="all:pre"]').inner_text() == "0 van 10 (0 %)"
                assert "2b-10" in await teacher.locator("#no-consent").inner_text()
                waiting = teacher.locator('.sheet-pre .slip[data-pupil="2b-10"] .slip-warn')
                assert await waiting.inner_text() == "Nog geen toestemming van een ouder"
                await teacher.wait_for_function(  # the QR codes are real, decoded images (not broken links)
                    "() => [...document.querySelectorAll('.slip img')].every(img => img.complete && img.naturalWidth > 0)",
                    timeout=20_000,
                )
                await shot(teacher, tmp_path, "teacher-desktop")

                # printing: pre and post each on sheets of their own, every link inside its slip
                await teacher.emulate_media(media="print")
                assert await teacher.evaluate("getComputedStyle(document.querySelector('.sheet-post')).breakBefore") == "page"
                assert not await teacher.locator("#rates").is_visible() and not await buttons.first.is_visible()
                outside = await teacher.evaluate(
                    """() => [...document.querySelectorAll('.slip')].filter(slip => {
                        const s = slip.getBoundingClientRect(), a = slip.querySelector('.slip-link').getBoundingClientRect();
                        return a.left < s.left || a.right > s.right || a.bottom > s.bottom || a.top < s.top;
                    }).length"""
                )
                assert outside == 0
                await teacher.evaluate("document.body.dataset.print = 'post'")
                assert not await teacher.locator(".sheet-pre").is_visible() and await teacher.locator(".sheet-post").is_visible()
                await shot(teacher, tmp_path, "teacher-print-post")
                await teacher.evaluate("delete document.body.dataset.print")
                await teacher.emulate_media(media="screen")

                phone = await browser.new_context(viewport={"width": 375, "height": 740}, locale="nl-NL")
                page = await phone.new_page()
                await page.goto(teacher_url)
                no_sideways_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
                assert await page.evaluate(no_sideways_scroll)
                await shot(page, tmp_path, "teacher-phone")
                await page.locator("a.survey-link[data-phase=pre]").first.click()

                await page.wait_for_selector("form")
                assert await page.locator("html").get_attribute("lang") == "nl"
                assert await page.evaluate(no_sideways_scroll)
                tops = await page.evaluate(  # the five-point scale in one row
                    "() => [...document.querySelector('.likert').querySelectorAll('label')].map(l => Math.round(l.getBoundingClientRect().top))"
                )
                assert len(tops) == 5 and len(set(tops)) == 1
                await shot(page, tmp_path, "survey-phone")
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
                said = await alert.inner_text()
                assert "Bijna klaar! Deze vraag heeft nog geen antwoord:" in said and "Als ik mijn best doe" in said
                assert "kloppen" not in said and "klopt" not in said  # nothing reads as "wrong"
                assert await page.evaluate("document.activeElement.id") == "problems"  # focus on the summary
                await shot(page, tmp_path, "survey-phone-missing")
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

                # the teacher page, still open, shows the new response rate by itself
                await teacher.wait_for_function(
                    "() => document.querySelector('[data-rate=\"all:pre\"]').textContent.trim() === '1 van 10 (10 %)'", timeout=20_000
                )
                assert await teacher.locator('[data-rate="g-1:pre"]').inner_text() == "1 van 10 (10 %)"
                assert await teacher.locator(".sheet-pre .done:not([hidden])").count() == 1
            finally:
                await browser.close()
