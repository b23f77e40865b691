"""One real event end to end: school registered over HTTP -> outbox -> JetStream -> reporting."""

from shared.asyncapi import owned_contracts
from tests.helpers import eventually

SCHOOL = {
    "brin": "12AB",
    "name": "Het Baken",
    "level": "vo",
    "postcode": "3511 AB",
    "contact": {"name": "J. de Vries", "email": "j.devries@hetbaken.nl"},
}


async def test_school_registered_at_registration_is_counted_by_reporting(start_service):
    async with start_service("registration") as registration, start_service("reporting") as reporting:
        response = await registration.post("/api/schools", json=SCHOOL)
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
            spec = (await client.get("/asyncapi.json")).json()
            documented = " ".join(channel["address"] for channel in spec["channels"].values())
            for contract in owned_contracts(name):
                assert contract.SUBJECT.split(".")[1] in documented
            # what it consumes: one receive operation per durable, its payload the events it handles
            received = {op_id for op_id, op in spec["operations"].items() if op["action"] == "receive"}
            assert "EmptyPayload" not in str(spec)
            if name != "registration":
                assert received and all(op_id.startswith(f"{name}-") for op_id in received)
                schemas = spec["components"]["schemas"]
                for durable in received:
                    ref = spec["components"]["messages"][f"{durable}:SubscribeMessage"]["payload"]["$ref"]
                    payload = schemas[ref.rsplit("/", 1)[1]]
                    refs = [item["$ref"] for item in payload["anyOf"]] if "anyOf" in payload else [ref]
                    assert refs and all(ref.endswith("Event") for ref in refs), (durable, payload)


async def test_http_requests_are_counted_per_route_template(start_service):
    async with start_service("reporting") as client:
        await client.get("/api/programmes/nope/summary")
        metrics = (await client.get("/metrics")).text
    assert (
        'girlsday_http_requests_total{method="GET",route="/api/programmes/{programme_id}/summary",service="reporting",status="404"}'
        in metrics
    )
