"""Wiring of the registration service: runtime (database, outbox relay, NATS), API, pages, limits."""

import asyncio
from datetime import UTC, datetime

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.registration import erasure, errors, idempotency, register, retention, tx
from services.registration.api import router
from services.registration.config import RegistrationConfig
from services.registration.fast_routes import FastRoutes
from services.registration.handlers import CONSUMERS
from services.registration.limits import BodySizeLimit
from services.registration.pages import pages
from services.registration.staff import accounts as staff_accounts
from services.registration.staff import identity
from services.registration.staff import router as staff_pages
from services.registration.store import metadata
from services.registration.vault import Vault, parse_key
from shared import geo
from shared.retention import EVERY_S
from shared.secrets import secret
from shared.service import Runtime, create_app
from shared.settings import Settings

DESCRIPTION = """Schools and companies register for VHTO's Girls' Day and energy-transition programmes.

* **Auth**: `Authorization: Bearer <token>` — the admin token, or the account secret a school or
  company received when it registered. Each sees only its own records.
* **Idempotency**: send `Idempotency-Key` on POST/PUT/DELETE; a retry within 7 days gets the first answer.
* **Errors** are RFC 9457 problem details (`application/problem+json`): `type` names the problem,
  `detail` explains it; a 422 lists every broken rule in `errors[]` (`location`, `field`, `rule`,
  `message`); 409 for a duplicate (with `existing.href`) or outside the registration window (with
  `deadline`); 413 for bodies over 64 KiB.
* **Events**: every change is published through the outbox on `registration.*` (no personal data).
"""


async def _warm_geography(_runtime) -> None:
    await asyncio.to_thread(geo.locate, "3511")  # builds the postcode tables once, off the event loop


async def _forget_expired_registers(runtime) -> int:
    today = datetime.now(UTC).date()
    return await tx.write(runtime, lambda conn: register.forget_expired(conn, runtime.outbox, today))


def build_app(settings: Settings, config: RegistrationConfig | None = None) -> FastAPI:
    config = config or RegistrationConfig()
    identity.provider(settings)  # a misconfigured staff login stops start-up here, with its reason

    async def open_vault(_runtime) -> None:  # after the start-up check of the secrets
        app.state.vault = Vault(parse_key(secret(settings, "registration_register_key")))

    runtime = Runtime("registration", settings, metadata, consumers=CONSUMERS, on_start=[_warm_geography, open_vault])
    runtime.every(idempotency.PRUNE_EVERY_S, lambda: idempotency.forget_expired(runtime), "idempotency-expiry")
    runtime.every(config.register_retention_interval_s, lambda: _forget_expired_registers(runtime), "register-retention")
    runtime.every(erasure.PURGE_EVERY_S, lambda: erasure.purge_erased(runtime), "erasure-purge")
    runtime.every(EVERY_S, lambda: retention.expire(runtime), "retention")
    runtime.every(3600, lambda: tx.write(runtime, staff_accounts.forget_old_failures), "staff-login-failures-expiry")
    app = create_app(runtime, [router, pages, staff_pages], title="girlsday registration", description=DESCRIPTION)
    errors.install(app)
    app.user_middleware.append(Middleware(FastRoutes, runtime=runtime))  # innermost: inside the metrics and the size limit
    app.add_middleware(BodySizeLimit)
    return app
