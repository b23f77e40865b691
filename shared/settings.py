"""Every setting of the platform, read from environment variables with the prefix GIRLSDAY_."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topology import DEAD_LETTER_RETENTION_DAYS, STREAM_RETENTION_DAYS

SERVICES = ("registration", "matching", "surveys", "reporting")
ServiceName = Literal["registration", "matching", "surveys", "reporting"]
DEFAULT_PORTS = {"registration": 8101, "matching": 8102, "surveys": 8103, "reporting": 8104}
DEFAULT_ADMIN_TOKEN = "change-me"  # accepted in development only (shared/secrets.py)
Environment = Literal["development", "production"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GIRLSDAY_", extra="ignore")

    # production (the default): every service refuses to start with a missing or default secret
    # (shared/secrets.py); development (`girlsday up`, tests, benchmarks) warns and goes on
    environment: Environment = "production"
    nats_url: str = "nats://127.0.0.1:4222"
    namespace: str = Field("", pattern=r"^[a-z0-9_]*$")
    data_dir: Path = Path("./var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = "127.0.0.1"
    # secrets: read them through shared.secrets.secret(), which checks them (and list new ones there)
    admin_token: str = Field(DEFAULT_ADMIN_TOKEN, repr=False)
    surveys_link_secret: str | None = Field(None, repr=False)  # signs teacher links; apart from the admin token
    # seals person numbers in the ESF+ participant register (32 bytes, base64); keep it as long as the register
    registration_register_key: str | None = Field(None, repr=False)
    # retention (docs/privacy.md): a programme's data about pupils are deleted this many days after
    # its event date (tokens, answers, codes, ages, consent; aggregated results stay); the streams
    # keep any event this long, dead letters this long
    pupil_data_retention_days: int = Field(183, ge=1, le=3660)
    stream_retention_days: int = Field(STREAM_RETENTION_DAYS, ge=1, le=3660)
    dead_letter_retention_days: int = Field(DEAD_LETTER_RETENTION_DAYS, ge=1, le=3660)
    max_deliver: int = Field(5, ge=1, le=100)
    declare_streams: bool = True  # production: false, streams come from `girlsday streams`
    embedded_nats_port: int = Field(-1, ge=-1, le=65535)
    lag_interval_s: float = Field(5.0, gt=0)  # how often each service measures its consumers' lag

    # Staff sessions (shared/staff.py): registration signs, every service verifies with these keys.
    staff_session_key: str | None = Field(None, repr=False)  # a secret: read it through shared.secrets.secret()
    staff_session_old_keys: str = Field("", repr=False)  # comma separated: still accepted while keys rotate
    staff_session_minutes: int = Field(30, ge=2, le=24 * 60)  # a session not renewed for this long ends
    staff_session_max_hours: int = Field(12, ge=1, le=7 * 24)  # a login lasts at most this long
    staff_identity: Literal["local", "oidc"] = "local"  # where staff log in (the OIDC seam: services/registration/staff/identity.py)
    staff_oidc_issuer: str | None = None
    staff_oidc_client_id: str | None = None

    registration_database_url: str | None = None
    matching_database_url: str | None = None
    surveys_database_url: str | None = None
    reporting_database_url: str | None = None

    registration_port: int = Field(DEFAULT_PORTS["registration"], ge=0, le=65535)
    matching_port: int = Field(DEFAULT_PORTS["matching"], ge=0, le=65535)
    surveys_port: int = Field(DEFAULT_PORTS["surveys"], ge=0, le=65535)
    reporting_port: int = Field(DEFAULT_PORTS["reporting"], ge=0, le=65535)

    registration_public_url: str | None = None
    matching_public_url: str | None = None
    surveys_public_url: str | None = None
    reporting_public_url: str | None = None

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, value: str) -> str:
        for server in value.split(","):
            if not server.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"{server!r} is not a NATS URL (nats://host:port)")
        return value

    def database_url(self, service: ServiceName) -> str:
        url = getattr(self, f"{service}_database_url")
        return url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / f'{service}.db'}"

    def port(self, service: ServiceName) -> int:
        return getattr(self, f"{service}_port")

    def public_url(self, service: ServiceName) -> str:
        url = getattr(self, f"{service}_public_url")
        return (url or f"http://{self.host}:{self.port(service)}").rstrip("/")

    @property
    def nats_servers(self) -> list[str]:
        return [s.strip() for s in self.nats_url.split(",")]


def describe_error(exc) -> str:
    """One line naming the environment variable and the rule, for a pydantic ValidationError."""
    first = exc.errors()[0]
    name = "GIRLSDAY_" + str(first["loc"][0]).upper() if first["loc"] else "GIRLSDAY_*"
    return f"{name}: {first['msg']}"
