"""What every service gives a person's browser: a Dutch 404 page, and API docs without a CDN."""

import re

import pytest

SERVICES = ("registration", "matching", "surveys", "reporting")
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.mark.parametrize("service", SERVICES)
async def test_an_unknown_page_is_a_dutch_404_page_and_an_unknown_api_address_stays_a_problem(start_service, service):
    async with start_service(service) as client:
        page = await client.get("/bestaat-niet", headers=HTML)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert '<html lang="nl">' in page.text and "Deze pagina bestaat niet" in page.text and '"detail"' not in page.text
        english = await client.get("/bestaat-niet?lang=en", headers=HTML)
        assert '<html lang="en">' in english.text and "This page does not exist" in english.text
        api = await client.get("/api/bestaat-niet", headers=HTML)
        assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
        machine = await client.get("/bestaat-niet")
        assert machine.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("service", SERVICES)
async def test_the_api_docs_load_their_scripts_from_the_service_itself(start_service, service):
    async with start_service(service) as client:
        docs = await client.get("/docs")
        assert docs.status_code == 200
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", docs.text) + re.findall(r"url: ?'([^']+)'", docs.text)
        assert assets and all(not a.startswith(("http://", "https://", "//")) for a in assets), assets
        for asset in assets:
            if asset.endswith((".js", ".css")):
                assert (await client.get(asset)).status_code == 200, asset
        assert (await client.get("/redoc")).status_code == 200
