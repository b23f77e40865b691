"""The audit log: entries of every service, kept by registration, searchable by a beheerder."""

from __future__ import annotations

import re

from services.registration.staff.cli import create_account
from shared.audit import entry
from shared.envelope import make_event
from shared.staff import Role, StaffSession
from tests.helpers import as_staff, eventually
from tests.integration.registration.test_staff_session import PASSWORD, csrf_of, login


def table(page: str) -> str:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


async def publish(js, topology, data) -> None:
    subject = data.nats_subject()
    await js.publish(
        topology.subject(subject), make_event(data, source="/girlsday/test").to_bytes(), stream=topology.stream_for_subject(subject)
    )


async def test_an_action_in_another_service_shows_in_the_log_with_who_did_it(settings, start_service, js, topology):
    bea = await create_account(settings, email="bea@vhto.nl", name="Bea Beheer", role="beheerder", password=PASSWORD)
    who = StaffSession(account_id=bea, name="Bea Beheer", role=Role.beheerder, login_id="l", csrf="c", logged_in_at=0)
    await publish(js, topology, entry("matching", who, "run.started", subject=("run", "run-42"), programme_id="p-1", seed=7))
    async with start_service("registration") as client:
        await login(client, "bea@vhto.nl")

        async def shown():
            page = (await client.get("/staff/audit")).text
            return "indeling gestart" in page and page

        page = await eventually(shown, timeout=60)
        row = re.search(r"<tr><td>[^<]*</td><td>Bea Beheer.*?</tr>", page, re.S).group(0)
        assert "indeling gestart" in row and "indeling: run-42" in row and "seed: 7" in row
        assert "medewerker aangemaakt" in page  # the CLI's own entry, by the platform

        filtered = table((await client.get("/staff/audit", params={"action": "staff.", "lang": "nl"})).text)
        assert "medewerker aangemaakt" in filtered and "indeling gestart" not in filtered
        by_word = table((await client.get("/staff/audit", params={"q": "run-42"})).text)
        assert "indeling gestart" in by_word and "medewerker aangemaakt" not in by_word


async def test_staff_changes_are_logged_with_the_beheerder_who_made_them(settings, start_service):
    await create_account(settings, email="bea@vhto.nl", name="Bea Beheer", role="beheerder", password=PASSWORD)
    async with start_service("registration") as client:
        await login(client, "bea@vhto.nl")
        csrf = csrf_of((await client.get("/staff/accounts/new")).text)
        await client.post(
            "/staff/accounts/new", data={"name": "Mia Medewerker", "email": "mia@vhto.nl", "role": "medewerker", "_csrf": csrf}
        )

        async def logged():
            page = (await client.get("/staff/audit")).text
            return "collega uitgenodigd" in page and page

        page = await eventually(logged, timeout=60)
        row = re.search(r"<tr><td>[^<]*</td><td>Bea Beheer[^\n]*collega uitgenodigd.*?</tr>", page, re.S).group(0)
        assert "Mia Medewerker" in row and "rol: medewerker" in row


async def test_only_a_beheerder_reads_the_audit_log(settings, start_service):
    async with start_service("registration") as client:
        for role in ("kijker", "medewerker"):
            as_staff(client, settings, role)
            assert (await client.get("/staff/audit")).status_code == 403
        as_staff(client, settings, "beheerder")
        assert (await client.get("/staff/audit")).status_code == 200
