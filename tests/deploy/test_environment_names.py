"""Every GIRLSDAY_* name in docker-compose.yml and deploy/k8s is a field of shared.settings.Settings,
and the production settings the platform relies on are set in both."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.envnames import settings_env_names

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bGIRLSDAY_[A-Z0-9_]+\b")
SERVICES = ("REGISTRATION", "MATCHING", "SURVEYS", "REPORTING")
REQUIRED = {
    "GIRLSDAY_NATS_URL",
    "GIRLSDAY_DECLARE_STREAMS",
    "GIRLSDAY_ENVIRONMENT",
    "GIRLSDAY_ADMIN_TOKEN",
    "GIRLSDAY_SURVEYS_LINK_SECRET",
    "GIRLSDAY_REGISTRATION_REGISTER_KEY",
    "GIRLSDAY_HOST",
    *(f"GIRLSDAY_{s}_{kind}" for s in SERVICES for kind in ("DATABASE_URL", "PORT", "PUBLIC_URL")),
}


def names_in(*paths: Path) -> set[str]:
    return {name for path in paths for name in NAME.findall(path.read_text())}


def k8s_files() -> list[Path]:
    return [
        p
        for p in (ROOT / "deploy" / "k8s").rglob("*")
        if p.is_file() and p.suffix in {".yaml", ".env", ".example"} or p.name.endswith(".env.example")
    ]


def test_settings_expose_the_names_the_deployments_rely_on():
    assert REQUIRED <= settings_env_names()


def test_every_name_in_docker_compose_is_a_setting_and_none_is_missing():
    used = names_in(ROOT / "docker-compose.yml", ROOT / "deploy" / "compose.env.example")
    assert used - settings_env_names() == set()
    assert REQUIRED <= used


def test_every_name_in_the_kubernetes_manifests_is_a_setting_and_none_is_missing():
    used = names_in(*k8s_files())
    assert used - settings_env_names() == set()
    assert REQUIRED <= used
