"""The staff session: registration's login issues it, every page and form checks it.

Real service, real NATS, real database (SQLite, or PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import re
import time

import pytest

from services.registration.staff.cli import create_account
from shared.secrets import secret
from shared.staff import COOKIE, LoginRequired, Role, SessionSigner
from tests.helpers import as_staff, staff_token

PASSWORD = "correct horse battery staple"


async def login(client, email: str, password: str = PASSWORD, **extra):
    return await client.post("/staff/login", data={"email": email, "password": password, **extra})


def csrf_of(html: str) -> str:
    return re.search(r'name="_csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
async def staffed(settings, start_service):
    """Registration running, with a beheerder (Bea) and a kijker (Kees)."""
    await create_account(settings, email="bea@vhto.nl", name="Bea Beheer", role="beheerder", password=PASSWORD)
    await create_account(settings, email="kees@vhto.nl", name="Kees Kijker", role="kijker", password=PASSWORD)
    async with start_service("registration") as client:
        yield client


async def test_a_staff_page_without_a_session_redirects_to_the_login_and_back(staffed):
    r = await staffed.get("/staff/accounts", headers={"accept": "text/html"})
    assert r.status_code == 303
    assert r.headers["location"].startswith("http://127.0.0.1:8101/staff/login?next=")
    r = await login(staffed, "bea@vhto.nl", next="/staff/accounts")
    assert r.status_code == 303 and r.headers["location"] == "/staff/accounts"
    page = await staffed.get("/staff/accounts")
    assert page.status_code == 200
    assert "Bea Beheer" in page.text and "Kees Kijker" in page.text


async def test_a_wrong_password_is_refused_in_dutch_without_saying_which_part_was_wrong(staffed):
    for email in ("bea@vhto.nl", "nobody@vhto.nl"):
        r = await login(staffed, email, "wrong password here")
        assert r.status_code == 401
        assert "horen niet bij een actief account" in r.text
        assert COOKIE not in r.cookies


async def test_login_attempts_are_throttled_after_five_failures_even_with_the_right_password(staffed):
    statuses = [(await login(staffed, "kees@vhto.nl", "not the password")).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]  # the fifth failure says so at once
    r = await login(staffed, "kees@vhto.nl")
    assert r.status_code == 429
    assert "Te veel mislukte pogingen" in r.text and re.search(r"na \d\d:\d\d uur", r.text)
    assert (await login(staffed, "bea@vhto.nl")).status_code == 303  # another account is not locked


async def test_a_missing_field_is_named_beside_it(staffed):
    r = await login(staffed, "", "")
    assert r.status_code == 422
    assert 'id="e-email"' in r.text and "Vul je e-mailadres in." in r.text
    assert 'id="e-password"' in r.text and "Vul je wachtwoord in." in r.text


async def test_a_kijker_gets_a_dutch_403_page_for_a_beheerder_page(staffed):
    await login(staffed, "kees@vhto.nl")
    r = await staffed.get("/staff/accounts")
    assert r.status_code == 403
    assert "Geen toegang" in r.text and "Je bent ingelogd als kijker" in r.text and "beheerder" in r.text


async def test_a_change_without_the_csrf_token_or_from_another_site_is_refused(staffed):
    await login(staffed, "bea@vhto.nl")
    form = {"name": "Mia", "email": "mia@vhto.nl", "role": "medewerker"}
    r = await staffed.post("/staff/accounts/new", data=form)
    assert r.status_code == 403 and "kwam niet van deze site" in r.text
    csrf = csrf_of((await staffed.get("/staff/accounts/new")).text)
    r = await staffed.post("/staff/accounts/new", data={**form, "_csrf": csrf}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    r = await staffed.post("/staff/accounts/new", data={**form, "_csrf": csrf})
    assert r.status_code == 201 and "/staff/welcome?token=" in r.text


async def test_a_forged_or_expired_token_is_no_session(staffed, settings):
    forged = SessionSigner(keys=["another key entirely, 32 chars"], ttl_s=600, max_login_s=3600)
    staffed.cookies.set(COOKIE, forged.sign(account_id="x", name="X", role=Role.beheerder, login_id="l"))
    assert (await staffed.get("/staff/accounts")).status_code == 303
    old = SessionSigner.from_settings(settings).sign(
        account_id="x", name="X", role=Role.beheerder, login_id="l", logged_in_at=time.time() - 13 * 3600
    )
    staffed.cookies.set(COOKIE, old)
    r = await staffed.get("/staff/accounts")
    assert r.status_code == 303 and "expired=1" in r.headers["location"]


async def test_logging_out_ends_the_login_so_a_kept_copy_of_the_cookie_cannot_be_renewed(staffed):
    await login(staffed, "bea@vhto.nl")
    kept = staffed.cookies.get(COOKIE)
    csrf = csrf_of((await staffed.get("/staff")).text)
    r = await staffed.post("/staff/logout", data={"_csrf": csrf})
    assert r.status_code == 303 and "logged_out=1" in r.headers["location"]
    assert staffed.cookies.get(COOKIE) is None
    staffed.cookies.set(COOKIE, kept)
    r = await staffed.get("/staff/renew", params={"next": "/staff"})
    assert r.status_code == 303 and "/staff/login" in r.headers["location"]


async def test_renewal_takes_the_accounts_current_role(staffed, settings):
    await login(staffed, "bea@vhto.nl")
    r = await staffed.get("/staff/renew", params={"next": "/staff/accounts"})
    assert r.status_code == 303 and r.headers["location"] == "/staff/accounts"
    session = SessionSigner.from_settings(settings).verify(staffed.cookies.get(COOKIE))
    assert session.role == Role.beheerder and session.name == "Bea Beheer"


async def test_an_expired_session_keeps_what_was_typed_through_the_login(staffed, settings):
    await login(staffed, "bea@vhto.nl")
    staffed.cookies.delete(COOKIE)
    r = await staffed.post(
        "/staff/accounts/new", data={"name": "Mia Medewerker", "email": "mia@vhto.nl", "role": "medewerker", "_csrf": "old"}
    )
    assert r.status_code == 401
    assert 'name="resume.name" value="Mia Medewerker"' in r.text and 'name="resume.email" value="mia@vhto.nl"' in r.text
    assert "resume._csrf" not in r.text
    r = await login(
        staffed,
        "bea@vhto.nl",
        next="/staff/accounts/new",
        resume_to="/staff/accounts/new",
        **{"resume.name": "Mia Medewerker", "resume.email": "mia@vhto.nl", "resume.role": "medewerker"},
    )
    assert r.status_code == 200 and "Je bent weer ingelogd" in r.text
    assert 'name="name" value="Mia Medewerker"' in r.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', r.text))
    r = await staffed.post("/staff/accounts/new", data=fields)
    assert r.status_code == 201


async def test_an_invited_colleague_chooses_her_password_and_is_logged_in(staffed):
    await login(staffed, "bea@vhto.nl")
    csrf = csrf_of((await staffed.get("/staff/accounts/new")).text)
    r = await staffed.post(
        "/staff/accounts/new", data={"name": "Mia Medewerker", "email": "Mia@VHTO.nl", "role": "medewerker", "_csrf": csrf}
    )
    link = re.search(r"/staff/welcome\?token=[\w-]+", r.text).group(0)
    staffed.cookies.clear()
    form = await staffed.get(link)
    assert form.status_code == 200 and "mia@vhto.nl" in form.text
    token = link.split("token=")[1]
    r = await staffed.post("/staff/welcome", data={"token": token, "password": "kort", "password_again": "anders"})
    assert r.status_code == 422 and "minstens 12 tekens" in r.text and "niet hetzelfde" in r.text
    r = await staffed.post("/staff/welcome", data={"token": token, "password": PASSWORD, "password_again": PASSWORD})
    assert r.status_code == 303
    assert "Mia Medewerker" in (await staffed.get("/staff")).text
    assert (await staffed.get(link)).status_code == 410  # used once


async def test_the_last_beheerder_cannot_be_demoted_or_deactivated(staffed, settings):
    await login(staffed, "bea@vhto.nl")
    page = await staffed.get("/staff/accounts")
    bea = re.search(r'/staff/accounts/([0-9a-f-]{36})\?lang=nl">Bea', page.text).group(1)
    csrf = csrf_of(page.text)
    r = await staffed.post(f"/staff/accounts/{bea}/role", data={"role": "kijker", "_csrf": csrf})
    assert r.status_code == 422 and "laatste beheerder" in r.text


async def test_a_deactivated_colleague_is_logged_out_at_her_next_renewal(staffed, settings):
    kees = staffed
    await login(kees, "kees@vhto.nl")
    kees_cookie = kees.cookies.get(COOKIE)
    kees.cookies.clear()
    await login(kees, "bea@vhto.nl")
    page = await kees.get("/staff/accounts")
    kees_id = re.search(r'/staff/accounts/([0-9a-f-]{36})\?lang=nl">Kees', page.text).group(1)
    confirm = await kees.get(f"/staff/accounts/{kees_id}/deactivate")
    assert "direct uitgelogd" in confirm.text
    r = await kees.post(f"/staff/accounts/{kees_id}/deactivate", data={"_csrf": csrf_of(page.text), "confirmed": "ja"})
    assert r.status_code == 303
    kees.cookies.clear()
    kees.cookies.set(COOKIE, kees_cookie)
    r = await kees.get("/staff/renew", params={"next": "/staff"})
    assert "/staff/login" in r.headers["location"]
    assert (await login(kees, "kees@vhto.nl")).status_code == 401


async def test_the_json_api_answers_401_and_403_instead_of_redirecting(settings, start_service):
    async with start_service("registration") as client:
        r = await client.get("/staff/accounts", headers={"accept": "application/json"})
        assert r.status_code == 401 and r.json()["detail"]["type"] == "staff_login_required"
        as_staff(client, settings, "kijker")
        r = await client.get("/staff/accounts", headers={"accept": "application/json"})
        assert r.status_code == 403


def test_a_token_signed_with_an_old_key_is_still_accepted_while_keys_rotate(settings):
    old_token, _ = staff_token(settings, "medewerker")
    rotated = settings.model_copy(
        update={"staff_session_key": "a brand new key of 32 characters", "staff_session_old_keys": secret(settings, "staff_session_key")}
    )
    assert SessionSigner.from_settings(rotated).verify(old_token).role == Role.medewerker
    new_token = SessionSigner.from_settings(rotated).sign(account_id="a", name="A", role=Role.kijker, login_id="l")
    with pytest.raises(LoginRequired):
        SessionSigner.from_settings(settings).verify(new_token)
