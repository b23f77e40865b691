"""Settings of the matching service only (prefix GIRLSDAY_MATCHING_)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MatchingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GIRLSDAY_MATCHING_", extra="ignore")

    auto_run: bool = Field(False, description="start a run (a proposal) when a programme's registration closes")
