"""Writes the Grafana dashboards of deploy/grafana/dashboards/ (JSON, provisioned read-only).

Edit the panels here and run `.venv/bin/python deploy/grafana/build_dashboards.py`; a test checks
that the committed JSON is what this script produces. Metric names: docs/architecture.md.
"""

from __future__ import annotations

import json
from pathlib import Path

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # provisioning/datasources/prometheus.yml
OUT = Path(__file__).resolve().parent / "dashboards"


def target(expr: str, legend: str, ref: str = "A") -> dict:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def panel(
    title: str, targets: list[dict], *, unit: str = "short", kind: str = "timeseries", description: str = "", w: int = 12, h: int = 8
) -> dict:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]}}
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"]}},
        "gridPos": {"w": w, "h": h},
    }


def dashboard(uid: str, title: str, panels: list[dict], description: str) -> dict:
    x = y = 0
    laid_out = []
    for index, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y = 0, y + h
        laid_out.append(dict(p, id=index, gridPos={"x": x, "y": y, "w": w, "h": h}))
        x += w
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["girlsday"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "service",
                    "label": "service",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": {"query": "label_values(girlsday_http_requests_total, service)", "refId": "service"},
                    "definition": "label_values(girlsday_http_requests_total, service)",
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "refresh": 2,
                    "current": {"text": "All", "value": "$__all"},
                }
            ]
        },
        "panels": laid_out,
    }


SVC = 'service=~"$service"'

TRAFFIC = dashboard(
    "girlsday-traffic",
    "girlsday · traffic and latency",
    [
        panel(
            "Requests per second",
            [target(f'sum by (service) (rate(girlsday_http_requests_total{{{SVC}, route!="/metrics"}}[5m]))', "{{service}}")],
            unit="reqps",
        ),
        panel(
            "Server errors (5xx share)",
            [
                target(
                    f'sum by (service) (rate(girlsday_http_requests_total{{{SVC}, status=~"5.."}}[5m])) / sum by (service) (rate(girlsday_http_requests_total{{{SVC}}}[5m]))',
                    "{{service}}",
                )
            ],
            unit="percentunit",
            description="Alert GirlsdayHighErrorRate fires above 5% for 5 minutes.",
        ),
        panel(
            "Latency p50 / p95 / p99",
            [
                target(
                    f'histogram_quantile({q}, sum by (service, le) (rate(girlsday_http_request_duration_seconds_bucket{{{SVC}, route!="/metrics"}}[5m])))',
                    f"{{{{service}}}} p{int(q * 100)}",
                )
                for q in (0.5, 0.95, 0.99)
            ],
            unit="s",
        ),
        panel(
            "Busiest routes",
            [
                target(
                    f'topk(10, sum by (service, method, route) (rate(girlsday_http_requests_total{{{SVC}, route!="/metrics"}}[5m])))',
                    "{{service}} {{method}} {{route}}",
                )
            ],
            unit="reqps",
        ),
        panel(
            "Responses by status",
            [target(f"sum by (status) (rate(girlsday_http_requests_total{{{SVC}}}[5m]))", "{{status}}")],
            unit="reqps",
        ),
        panel(
            "Targets up",
            [target('up{job="girlsday"}', "{{service}} {{instance}}")],
            kind="stat",
            description="1 = Prometheus scrapes the replica. Alert GirlsdayServiceDown.",
        ),
    ],
    "HTTP traffic, errors and latency of every service (and replica count).",
)

EVENTS = dashboard(
    "girlsday-events",
    "girlsday · events, lag and dead letters",
    [
        panel(
            "Outbox backlog (committed, not yet acked by JetStream)",
            [target(f"max by (service) (girlsday_outbox_pending{{{SVC}}})", "{{service}}")],
            description="Alert GirlsdayOutboxBacklogGrowing.",
        ),
        panel(
            "Events published per second",
            [target(f"sum by (service) (rate(girlsday_outbox_published_total{{{SVC}}}[5m]))", "{{service}}")],
            unit="ops",
        ),
        panel(
            "Consumer lag (messages not yet handled)",
            [target(f"max by (service, consumer) (girlsday_consumer_pending{{{SVC}}})", "{{consumer}}")],
            description="Shared by every replica of a durable consumer. Alerts GirlsdayConsumerLag, GirlsdayConsumerStuck.",
        ),
        panel(
            "Events handled per second, by outcome",
            [target(f"sum by (service, outcome) (rate(girlsday_events_consumed_total{{{SVC}}}[5m]))", "{{service}} {{outcome}}")],
            unit="ops",
        ),
        panel(
            "Dead letters (last hour)",
            [target(f"sum by (service, consumer) (increase(girlsday_dead_letters_total{{{SVC}}}[1h]))", "{{consumer}}")],
            description="Any value above 0 fires GirlsdayDeadLetters; read the DEAD_LETTER stream for the reason.",
        ),
        panel(
            "Retries per second",
            [target(f'sum by (service, consumer) (rate(girlsday_events_consumed_total{{{SVC}, outcome="retried"}}[5m]))', "{{consumer}}")],
            unit="ops",
        ),
        panel(
            "Reporting projection lag by stream",
            [
                target(
                    'max by (consumer) (girlsday_consumer_pending{service="reporting", consumer=~"reporting-projections-.*"})',
                    "{{consumer}}",
                )
            ],
        ),
        panel(
            "Duplicates skipped by the inbox",
            [
                target(
                    f'sum by (service, consumer) (rate(girlsday_events_consumed_total{{{SVC}, outcome="duplicate"}}[5m]))', "{{consumer}}"
                )
            ],
            unit="ops",
        ),
    ],
    "The event backbone: outboxes, durable consumers, retries and the dead-letter stream.",
)

BUSINESS = dashboard(
    "girlsday-business",
    "girlsday · business figures",
    [
        panel(
            "Facts recorded in the selected range, by event type",
            [
                target(
                    'sort_desc(sum by (type) (increase(girlsday_events_consumed_total{service="reporting", outcome="processed"}[$__range])))',
                    "{{type}}",
                )
            ],
            kind="bargauge",
            w=24,
            h=10,
            description="What reporting (which reads every stream) handled: schools, groups, activities registered, placements, responses.",
        ),
        panel(
            "Registrations per hour",
            [
                target(
                    'sum by (type) (increase(girlsday_events_consumed_total{service="reporting", outcome="processed", type=~".*registration\\\\.(school|group|company|activity)\\\\.registered.*"}[1h]))',
                    "{{type}}",
                )
            ],
        ),
        panel(
            "Placements and waitlist per hour",
            [
                target(
                    'sum by (type) (increase(girlsday_events_consumed_total{service="reporting", outcome="processed", type=~".*matching\\\\.(placement|group)\\\\..*"}[1h]))',
                    "{{type}}",
                )
            ],
        ),
        panel(
            "Survey responses per hour",
            [
                target(
                    'sum by (type) (increase(girlsday_events_consumed_total{service="reporting", outcome="processed", type=~".*surveys\\\\.response.*"}[1h]))',
                    "{{type}}",
                )
            ],
        ),
        panel(
            "Partner KPI updates published",
            [target("sum by (programme) (increase(girlsday_reporting_kpi_published_total[1h]))", "{{programme}}")],
        ),
        panel(
            "Projection updates that changed a figure",
            [target('sum by (type) (rate(girlsday_reporting_events_projected_total{changed="true"}[5m]))', "{{type}}")],
            unit="ops",
        ),
    ],
    "Programme activity as the events tell it (no personal data: counts by event type only).",
)


def main(out: Path = OUT) -> None:
    out.mkdir(exist_ok=True)
    for board in (TRAFFIC, EVENTS, BUSINESS):
        (out / f"{board['uid']}.json").write_text(json.dumps(board, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    import sys

    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
