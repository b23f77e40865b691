"""The account cookie of the web pages: script-proof, same-site only, and HTTPS-only behind HTTPS."""

from tests.integration.registration.conftest import Api


async def _log_in(client) -> str:
    _, auth = await Api(client).school()
    response = await client.post("/login", data={"secret": auth["Authorization"].removeprefix("Bearer ")})
    assert response.status_code in (302, 303), response.text
    return response.headers["set-cookie"]


async def test_login_cookie_is_http_only_and_same_site_strict(api):
    cookie = (await _log_in(api.client)).lower()
    assert cookie.startswith("gd_account=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "secure" not in cookie  # plain http (local use): a Secure cookie would never come back


async def test_login_cookie_is_secure_when_the_pages_are_published_over_https(settings, start_service):
    settings.registration_public_url = "https://aanmelden.example.nl"
    async with start_service("registration") as client:
        cookie = (await _log_in(client)).lower()
    assert "; secure" in cookie
    assert "httponly" in cookie
