"""Every Prometheus metric the shared library defines (names agreed in docs/architecture.md).

Metrics are process-wide and labelled by service, so several services may live in one process
(as they do in tests) without clashing.
"""

from __future__ import annotations

from functools import cache

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

OUTBOX_PENDING = Gauge("girlsday_outbox_pending", "Events committed but not yet acknowledged by JetStream", ["service"])
OUTBOX_PUBLISHED = Counter("girlsday_outbox_published_total", "Events the outbox relay published (PubAck received)", ["service"])
EVENTS_CONSUMED = Counter(
    "girlsday_events_consumed_total",
    "Events a consumer handled, by outcome",
    ["service", "consumer", "type", "outcome"],
)
DEAD_LETTERS = Counter("girlsday_dead_letters_total", "Messages moved to the dead-letter stream", ["service", "consumer"])
CONSUMER_PENDING = Gauge(
    "girlsday_consumer_pending", "Messages in the stream not yet processed by the durable consumer", ["service", "consumer"]
)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
CONSUMER_BATCH = Histogram(
    "girlsday_consumer_batch_size",
    "Events a consumer fetched and handled in one transaction",
    ["service", "consumer"],
    buckets=BATCH_BUCKETS,
)
GROUP_COMMIT_BATCH = Histogram(
    "girlsday_group_commit_batch_size", "Units of work a group commit ran in one transaction", ["name"], buckets=BATCH_BUCKETS
)
HTTP_REQUESTS = Counter("girlsday_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_DURATION = Histogram(
    "girlsday_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


@cache
def faststream_middleware():
    """FastStream's Prometheus middleware; one per process (it registers its metrics once)."""
    from faststream.nats.prometheus import NatsPrometheusMiddleware

    return NatsPrometheusMiddleware(registry=REGISTRY, app_name="girlsday")
