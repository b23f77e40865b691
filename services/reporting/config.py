"""Settings of the reporting service only (prefix GIRLSDAY_REPORTING_)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GIRLSDAY_REPORTING_", extra="ignore")

    kpi_interval_s: float = Field(10.0, ge=0, description="at most one partner KPI event per programme this often")
    suppression_threshold: int = Field(10, ge=1, description="public counts under this are suppressed")
    rounding_base: int = Field(5, ge=1, description="public counts are rounded to a multiple of this (docs/privacy.md)")
