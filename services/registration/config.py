"""Settings of the registration service only (prefix GIRLSDAY_REGISTRATION_); the platform's are in shared.settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RegistrationConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GIRLSDAY_REGISTRATION_", extra="ignore")

    # How often the ESF+ register's retention job looks for registers past their keep-until date.
    register_retention_interval_s: float = Field(3600, gt=0)
