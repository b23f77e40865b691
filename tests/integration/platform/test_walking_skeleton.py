"""One real event end to end: school registered over HTTP -> outbox -> JetStream -> reporting."""

from tests.helpers import eventually


async def test_school_registered_at_registration_is_counted_by_reporting(start_service):
    async with start_service("registration") as registration, start_service("reporting") as reporting:
        response = await registration.post("/api/schools", json={"brin": "12AB", "name": "Het Baken", "level": "vo", "postcode": "3511 AB"})
        assert response.status_code == 201, response.text

        async def counted():
            summary = (await reporting.get("/api/summary")).json()
            return summary["schools"] == 1

        await eventually(counted)


async def test_every_service_reports_healthy_with_metrics(start_service):
    for name in ("registration", "matching", "surveys", "reporting"):
        async with start_service(name) as client:
            health = await client.get("/healthz")
            assert health.status_code == 200, health.text
            assert health.json()["checks"] == {"database": "ok", "nats": "ok"}
            metrics = await client.get("/metrics")
            assert "girlsday_outbox_pending" in metrics.text
