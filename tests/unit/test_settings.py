"""Settings come only from GIRLSDAY_* environment variables."""

import pytest
from pydantic import ValidationError

from shared.settings import Settings


def test_each_service_defaults_to_its_own_sqlite_file_under_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path, _env_file=None)
    assert settings.database_url("matching") == f"sqlite+aiosqlite:///{tmp_path.resolve()}/matching.db"
    assert settings.database_url("matching") != settings.database_url("surveys")


def test_environment_variables_configure_a_service(monkeypatch):
    monkeypatch.setenv("GIRLSDAY_REPORTING_DATABASE_URL", "postgresql+asyncpg://db/reporting")
    monkeypatch.setenv("GIRLSDAY_REPORTING_PORT", "9004")
    settings = Settings()
    assert settings.database_url("reporting") == "postgresql+asyncpg://db/reporting"
    assert settings.port("reporting") == 9004
    assert settings.public_url("reporting") == "http://127.0.0.1:9004"


def test_a_nats_url_that_is_not_one_is_refused(monkeypatch):
    monkeypatch.setenv("GIRLSDAY_NATS_URL", "http://localhost:4222")
    with pytest.raises(ValidationError, match="not a NATS URL"):
        Settings()
