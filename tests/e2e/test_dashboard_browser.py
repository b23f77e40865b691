"""The reporting dashboard in headless Chromium: Dutch first, English available, charts drawn."""

import asyncio
import contextlib
import shutil
import socket

import pytest
import uvicorn

from services.reporting.app import build_app
from tests.helpers import eventually
from tests.integration.reporting.edition import EXPECTED_TOTALS, P, edition_events, publish

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if shutil.os.path.exists("/usr/bin/chromium") else None)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]

CANVASES = ("chart-targets", "chart-days", "chart-provinces", "chart-survey")
# How many pixels of a chart's canvas are painted, and how many data points the chart holds.
CHART_STATE = """id => {
  const canvas = document.getElementById(id);
  const chart = Chart.getChart(canvas);
  const ctx = canvas.getContext('2d');
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return { painted, width: canvas.width, height: canvas.height,
           points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.filter(v => v !== null).length, 0) : -1 };
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(app):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), timeout=30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_dashboard_draws_every_chart_in_dutch_and_english(settings, js, topology):
    from playwright.async_api import async_playwright

    for event in edition_events():
        await publish(js, topology, event)
    async with serving(build_app(settings)) as base, async_playwright() as pw:
        import httpx

        async def projected():
            async with httpx.AsyncClient() as client:
                response = await client.get(f"{base}/api/programmes/{P}/summary")
                return (
                    response.status_code == 200 and response.json()["surveys"]["effects"] and response.json()["totals"] == EXPECTED_TOTALS
                )

        await eventually(projected, timeout=20)

        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{base}/")
        await page.wait_for_function("window.dashboardReady === true", timeout=15000)
        assert await page.get_attribute("html", "lang") == "nl"
        assert await page.locator("h1").inner_text() == "Girls' Day in cijfers: Girls' Day 2026"
        assert "74" in await page.locator('[data-figure="pupils"] .value').inner_text()
        for canvas in CANVASES:
            state = await page.evaluate(CHART_STATE, canvas)
            assert state["points"] > 0, f"{canvas} has no data"
            assert state["painted"] > 0.01 * state["width"] * state["height"], f"{canvas} is blank: {state}"

        await page.get_by_role("link", name="English").click()
        await page.wait_for_function("window.dashboardReady === true", timeout=15000)
        assert await page.get_attribute("html", "lang") == "en"
        assert await page.get_by_text("Target vs actual").count() >= 1
        state = await page.evaluate(CHART_STATE, "chart-provinces")
        assert state["painted"] > 0
        assert errors == []
        await browser.close()


async def test_on_a_phone_the_dashboard_shows_its_programme_its_tables_and_updates_without_a_reload(settings, js, topology, monkeypatch):
    import httpx
    from playwright.async_api import async_playwright

    from services.reporting import pages
    from shared.envelope import CloudEvent
    from tests.integration.reporting.edition import _group

    monkeypatch.setattr(pages, "DASHBOARD_REFRESH_MS", 500)
    for event in edition_events():
        await publish(js, topology, event)
    async with serving(build_app(settings)) as base, async_playwright() as pw:

        async def projected():
            async with httpx.AsyncClient() as client:
                response = await client.get(f"{base}/api/programmes/{P}/summary")
                return response.status_code == 200 and response.json()["totals"] == EXPECTED_TOTALS

        await eventually(projected, timeout=20)
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 375, "height": 740})
        await page.goto(f"{base}/")
        await page.wait_for_function("window.dashboardReady === true", timeout=15000)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert await page.locator("#selected").inner_text() == "Gekozen programma: Girls' Day 2026"
        assert await page.locator('nav a[aria-current="page"]').inner_text() == "Girls' Day 2026"
        assert "Niemand telt dubbel" in await page.locator("#explain-unplaced").inner_text()
        assert await page.locator("details table").count() == 4  # every chart has its table
        assert await page.locator("#table-provinces tbody tr").count() >= 1
        as_of = await page.locator("#as-of").inner_text()
        assert " om " in as_of and "T" not in as_of  # Dutch time in words, not an ISO stamp
        await page.screenshot(path=f"{settings.data_dir}-dashboard-phone.png", full_page=True)

        later = _group("g-late", "s1", 26, 20)
        event = CloudEvent(id="late-group", source="/test", type=later.TYPE, time=later.registered_at, data=later.model_dump(mode="json"))
        await publish(js, topology, event)
        await page.wait_for_function(  # without a reload
            "() => document.querySelector('[data-figure=\"pupils\"] .value').textContent.trim() === '100'", timeout=20000
        )
        rows = await page.locator("#table-targets tbody tr").first.text_content()  # the table is folded away
        assert "100" in rows
        await browser.close()
