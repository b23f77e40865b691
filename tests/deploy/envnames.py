"""Environment variable names the application reads: one per field of shared.settings.Settings."""

from __future__ import annotations

from shared.settings import Settings


def settings_env_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}
