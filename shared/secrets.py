"""The platform's secrets, and the rule that production never runs on a default or missing one.

Every secret is one row of `SECRETS`: the setting (a field of `shared.settings.Settings`) and the
services that use it. Outside development (`GIRLSDAY_ENVIRONMENT=production`, the default) a
service refuses to start while one of its secrets is missing, a placeholder from the examples,
shorter than `MIN_LENGTH`, or the same as another secret (rotating one must not change another).
In development (`girlsday up`, the tests, the benchmarks) a missing secret takes a fixed
development value, and each one that does is logged as a warning.

Read a secret that may be unset through `secret(settings, "name")`: it gives development its value.
To add a secret: a field in Settings (`Field(None, repr=False)`), a row here, the variable in
docker-compose.yml, deploy/compose.env.example and deploy/k8s (tests/deploy checks they match).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from shared.settings import DEFAULT_ADMIN_TOKEN, SERVICES, ServiceName, Settings

log = logging.getLogger(__name__)

MIN_LENGTH = 32
# values the repository's examples and defaults use (compose.env.example, the k8s overlay)
PLACEHOLDER = re.compile(r"(change-?me|replace[-_ ]?(me|with).*|secret|password|development-.*)", re.IGNORECASE)


@dataclass(frozen=True)
class Secret:
    setting: str  # field of shared.settings.Settings; its variable is GIRLSDAY_<SETTING>
    services: tuple[ServiceName, ...]  # the services that use it and refuse to start without it
    purpose: str
    development_value: str  # what development uses while it is unset

    @property
    def variable(self) -> str:
        return f"GIRLSDAY_{self.setting.upper()}"


SECRETS: tuple[Secret, ...] = (
    Secret("admin_token", SERVICES, "the admin bearer token of machine-to-machine calls", DEFAULT_ADMIN_TOKEN),
    Secret("surveys_link_secret", ("surveys",), "the key that signs teacher links", "development-teacher-links"),
    Secret(
        "staff_session_key",
        SERVICES,
        "the key that signs staff sessions (registration) and verifies them (every service)",
        "development-staff-sessions",
    ),
    Secret(
        "registration_register_key",
        ("registration",),
        "the key that seals BSNs in the ESF+ participant register (32 bytes, base64: `girlsday register-key`)",
        "ZGV2ZWxvcG1lbnQgcmVnaXN0ZXIga2V5LCAzMiBieXQ",  # base64 of "development register key, 32 byt"
    ),
)


class InsecureSettings(RuntimeError):
    """A service was asked to start outside development with a missing or default secret."""


def _row(name: str) -> Secret:
    for row in SECRETS:
        if row.setting == name:
            return row
    raise KeyError(f"{name!r} is not listed in shared.secrets.SECRETS")


def secret(settings: Settings, name: str) -> str:
    """The value of secret `name`: its setting, or in development its development value."""
    row = _row(name)
    value = getattr(settings, row.setting)
    if value:
        return value
    if settings.environment == "development":
        return row.development_value
    raise InsecureSettings(f"{row.variable} is not set ({row.purpose})")


def problems(settings: Settings, service: ServiceName) -> list[str]:
    """What is wrong with the secrets `service` uses, one line each naming the variable."""
    found: list[str] = []
    values: dict[str, str] = {}
    for row in SECRETS:
        if service not in row.services:
            continue
        value = getattr(settings, row.setting) or ""
        if not value:
            found.append(f"{row.variable} is not set ({row.purpose})")
        elif value == row.development_value or PLACEHOLDER.fullmatch(value):
            found.append(f"{row.variable} is a default or example value; set a random one ({row.purpose})")
        elif len(value) < MIN_LENGTH:
            found.append(f"{row.variable} has {len(value)} characters; use at least {MIN_LENGTH} random ones")
        else:
            for other, other_value in values.items():
                if value == other_value:
                    found.append(f"{row.variable} is the same as {other}; give each secret its own value")
            values[row.variable] = value
    return found


def check(settings: Settings, service: ServiceName) -> None:
    """Refuse to start `service` outside development while a secret is missing or a default
    (raises InsecureSettings); in development, warn about each one that is."""
    found = problems(settings, service)
    if not found:
        return
    if settings.environment == "development":
        for line in found:
            log.warning("development only: %s", line)
        return
    raise InsecureSettings(
        f"refusing to start in {settings.environment} (GIRLSDAY_ENVIRONMENT): "
        + "; ".join(found)
        + ". Development: GIRLSDAY_ENVIRONMENT=development"
    )
