"""Idempotency keys are kept for a week, then forgotten: the table does not grow for ever."""

from datetime import UTC, datetime, timedelta

from services.registration import idempotency
from services.registration.app import build_app
from tests.conftest import running
from tests.helpers import eventually
from tests.integration.registration.conftest import school_body


async def test_a_retry_within_the_retention_replays_and_an_expired_key_is_forgotten(settings):
    app = build_app(settings)
    async with running(app) as client:
        runtime = app.state.runtime
        key = {"Idempotency-Key": "aanmelding-1"}
        first = await client.post("/api/schools", json=school_body("12AB"), headers=key)
        assert first.status_code == 201

        assert await idempotency.forget_expired(runtime, now=datetime.now(UTC) + idempotency.RETENTION / 2) == 0
        retry = await client.post("/api/schools", json=school_body("12AB"), headers=key)
        assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json()["school"]["id"] == first.json()["school"]["id"]

        later = datetime.now(UTC) + idempotency.RETENTION + idempotency.RETENTION / 7
        assert await idempotency.forget_expired(runtime, now=later) == 1
        # forgotten: the same key is now a new request, and the school exists already
        again = await client.post("/api/schools", json=school_body("12AB"), headers=key)
        assert again.status_code == 409
        assert "Idempotent-Replayed" not in again.headers


async def test_the_running_service_forgets_expired_keys_by_itself(settings, monkeypatch):
    monkeypatch.setattr(idempotency, "PRUNE_EVERY_S", 0.05)
    monkeypatch.setattr(idempotency, "RETENTION", timedelta(0))  # every stored key has expired at once
    app = build_app(settings)
    async with running(app) as client:
        key = {"Idempotency-Key": "aanmelding-2"}
        assert (await client.post("/api/schools", json=school_body("34CD"), headers=key)).status_code == 201

        async def forgotten():
            r = await client.post("/api/schools", json=school_body("34CD"), headers=key)
            return r.status_code == 409 and "Idempotent-Replayed" not in r.headers

        await eventually(forgotten, timeout=10)
