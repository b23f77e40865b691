"""A service refuses to start outside development on default secrets, in-process and as a process;
teacher links do not depend on the admin token."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.secrets import InsecureSettings
from tests.conftest import ROOT

ADMIN_A = "first-admin-token-" + "a" * 24
ADMIN_B = "second-admin-token-" + "b" * 24
LINKS = "teacher-link-secret-" + "c" * 24


async def test_a_service_refuses_to_start_in_production_with_the_default_admin_token(start_service, settings):
    production = settings.model_copy(update={"environment": "production", "admin_token": "change-me"})
    with pytest.raises(InsecureSettings, match="GIRLSDAY_ADMIN_TOKEN is a default"):
        async with start_service("matching", production):
            pass


async def test_surveys_refuses_to_start_in_production_without_a_teacher_link_secret(start_service, settings):
    production = settings.model_copy(update={"environment": "production", "admin_token": ADMIN_A})
    with pytest.raises(InsecureSettings, match="GIRLSDAY_SURVEYS_LINK_SECRET is not set"):
        async with start_service("surveys", production):
            pass


async def test_rotating_the_admin_token_keeps_every_teacher_link_valid(start_service, settings):
    before = settings.model_copy(
        update={
            "environment": "production",
            "admin_token": ADMIN_A,
            "surveys_link_secret": LINKS,
            "staff_session_key": "s" * 20 + "-staff-sessions-0123456789",
        }
    )
    async with start_service("surveys", before) as client:
        answer = await client.get("/api/v1/admin/teacher-links/gd-2027/school-1", headers={"Authorization": f"Bearer {ADMIN_A}"})
        assert answer.status_code == 200
        link = answer.json()["url"].split("/leraar/", 1)[1]
        assert (await client.get(f"/leraar/{link}")).status_code == 200
    after = before.model_copy(update={"admin_token": ADMIN_B})
    async with start_service("surveys", after) as client:
        assert (
            await client.get("/api/v1/admin/teacher-links/gd-2027/school-1", headers={"Authorization": f"Bearer {ADMIN_A}"})
        ).status_code == 401
        assert (await client.get(f"/leraar/{link}")).status_code == 200
        forged = link[:-1] + ("1" if link.endswith("0") else "0")
        assert (await client.get(f"/leraar/{forged}")).status_code == 403


def test_a_service_process_in_production_with_default_secrets_exits_with_one_line_naming_them(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIRLSDAY_")}
    env.update(GIRLSDAY_DATA_DIR=str(tmp_path))  # GIRLSDAY_ENVIRONMENT unset: production
    result = subprocess.run([sys.executable, "-m", "services.surveys"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("girlsday-surveys: refusing to start in production"), result.stderr
    assert "GIRLSDAY_ADMIN_TOKEN" in lines[0] and "GIRLSDAY_SURVEYS_LINK_SECRET" in lines[0]
    assert not (tmp_path / "surveys.db").exists()  # refused before touching anything
