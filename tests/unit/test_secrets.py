"""Production never runs on a default, example or missing secret; development warns and goes on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shared import secrets
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
STRONG_ADMIN = "a" * 20 + "-admin-token-0123456789"
STRONG_LINKS = "l" * 20 + "-teacher-links-0123456789"
STRONG_REGISTER = "cmVnaXN0ZXIta2V5LW9mLWEtcmVhbC1wcm9kdWN0aW8"  # 32 bytes, base64


STRONG_STAFF = "s" * 20 + "-staff-sessions-0123456789"


def production(**values) -> Settings:
    """Production settings; the staff session key (every service's) set unless a test says otherwise."""
    return Settings(environment="production", _env_file=None, **{"staff_session_key": STRONG_STAFF, **values})


def test_the_default_environment_is_production_so_a_forgotten_setting_fails_closed(monkeypatch):
    monkeypatch.delenv("GIRLSDAY_ENVIRONMENT", raising=False)
    assert Settings(_env_file=None).environment == "production"


def test_production_with_the_defaults_names_every_missing_secret_of_the_service():
    surveys = secrets.problems(production(), "surveys")
    assert len(surveys) == 2
    assert "GIRLSDAY_ADMIN_TOKEN is a default or example value" in surveys[0]
    assert "GIRLSDAY_SURVEYS_LINK_SECRET is not set" in surveys[1]
    # matching signs no teacher links: only the admin token concerns it
    assert [p.split(" ")[0] for p in secrets.problems(production(), "matching")] == ["GIRLSDAY_ADMIN_TOKEN"]
    with pytest.raises(
        secrets.InsecureSettings, match="refusing to start in production .*GIRLSDAY_ADMIN_TOKEN.*GIRLSDAY_ENVIRONMENT=development"
    ):
        secrets.check(production(), "registration")


def test_production_starts_with_real_secrets():
    settings = production(admin_token=STRONG_ADMIN, surveys_link_secret=STRONG_LINKS, registration_register_key=STRONG_REGISTER)
    for service in ("registration", "matching", "surveys", "reporting"):
        secrets.check(settings, service)
    assert secrets.secret(settings, "surveys_link_secret") == STRONG_LINKS


def test_the_example_values_of_compose_and_kubernetes_are_refused():
    examples = [ROOT / "deploy" / "compose.env.example", *(ROOT / "deploy" / "k8s").rglob("*.example")]
    values = {
        line.split("=", 1)[1]
        for path in examples
        for line in path.read_text().splitlines()
        if "=" in line and not line.startswith("#") and "://" not in line and not line.startswith(("IMAGE_TAG", "PUBLIC_BASE_URL"))
    }
    assert values, "no example values found"
    for value in values:
        assert secrets.problems(production(admin_token=value, surveys_link_secret=STRONG_LINKS), "surveys"), value


def test_a_short_secret_or_one_secret_used_twice_is_refused():
    short = secrets.problems(production(admin_token="x7Kp2", surveys_link_secret=STRONG_LINKS), "surveys")
    assert short == [f"GIRLSDAY_ADMIN_TOKEN has 5 characters; use at least {secrets.MIN_LENGTH} random ones"]
    same = secrets.problems(production(admin_token=STRONG_LINKS, surveys_link_secret=STRONG_LINKS), "surveys")
    assert same == ["GIRLSDAY_SURVEYS_LINK_SECRET is the same as GIRLSDAY_ADMIN_TOKEN; give each secret its own value"]


def test_development_accepts_the_defaults_with_a_warning_each(caplog):
    settings = Settings(environment="development", _env_file=None)
    with caplog.at_level(logging.WARNING, logger="shared.secrets"):
        secrets.check(settings, "surveys")
    assert [r.getMessage().split(":")[1].split()[0] for r in caplog.records] == [
        "GIRLSDAY_ADMIN_TOKEN",
        "GIRLSDAY_SURVEYS_LINK_SECRET",
        "GIRLSDAY_STAFF_SESSION_KEY",
    ]
    assert secrets.secret(settings, "surveys_link_secret") == "development-teacher-links"


def test_a_missing_secret_is_never_read_as_a_default_in_production():
    with pytest.raises(secrets.InsecureSettings, match="GIRLSDAY_SURVEYS_LINK_SECRET is not set"):
        secrets.secret(production(), "surveys_link_secret")


def test_secrets_do_not_show_in_the_settings_repr():
    settings = production(admin_token=STRONG_ADMIN, surveys_link_secret=STRONG_LINKS)
    assert STRONG_ADMIN not in repr(settings) and STRONG_LINKS not in repr(settings)


def test_every_service_needs_the_staff_session_key_in_production():
    for service in ("registration", "matching", "surveys", "reporting"):
        assert "GIRLSDAY_STAFF_SESSION_KEY is not set" in " ".join(secrets.problems(production(staff_session_key=None), service))


def test_every_listed_secret_is_a_setting():
    for row in secrets.SECRETS:
        assert row.setting in Settings.model_fields, row.setting
