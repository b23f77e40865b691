"""The reporting service's own metrics (prefix girlsday_reporting_)."""

from prometheus_client import Counter

EVENTS_PROJECTED = Counter(
    "girlsday_reporting_events_projected_total",
    "Events applied to the projections, by type and whether they changed a row",
    ["type", "changed"],
)
KPI_PUBLISHED = Counter("girlsday_reporting_kpi_published_total", "Partner KPI events published", ["programme"])
REBUILD_EVENTS = Counter("girlsday_reporting_rebuild_events_total", "Events replayed by rebuilds, by outcome", ["outcome"])
