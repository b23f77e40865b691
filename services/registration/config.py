"""Settings of the registration service only (prefix GIRLSDAY_REGISTRATION_); the platform's are in shared.settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.registration.vault import new_key, parse_key


class RegistrationConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GIRLSDAY_REGISTRATION_", extra="ignore")

    # The key of the ESF+ participant register (32 bytes, base64): seals person numbers (BSN,
    # onderwijsnummer) and derives their blind index. Unset: a development key kept in the data
    # directory (`register.key`); production must set it, and keep it as long as the register.
    register_key: SecretStr | None = None
    register_retention_interval_s: float = Field(3600, gt=0)

    def register_key_bytes(self, data_dir: Path) -> bytes:
        if self.register_key is not None:
            return parse_key(self.register_key.get_secret_value())
        path = data_dir / "register.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_key() + "\n")
            path.chmod(0o600)
        return parse_key(path.read_text())
