"""Settings of the surveys service only (prefix GIRLSDAY_SURVEYS_); the platform's are in shared.settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SurveysConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GIRLSDAY_SURVEYS_", extra="ignore")

    # the key that signs teacher links is a platform secret: GIRLSDAY_SURVEYS_LINK_SECRET (shared/secrets.py)
    post_close_days: int = Field(21, ge=1, le=365)
    reminder_threshold: float = Field(0.6, ge=0, le=1)
    reminder_lead_days: float = Field(3, ge=0, le=60)
    reminder_interval_s: float = Field(60, gt=0)
    results_interval_s: float = Field(1.0, gt=0)
