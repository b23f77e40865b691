"""Business metrics of the matching service (prefix girlsday_matching_)."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

RUN_DURATION = Histogram("girlsday_matching_run_duration_seconds", "Duration of an allocation run", ["mode"],
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60))  # fmt: skip
PLACED_RATIO = Gauge("girlsday_matching_placed_ratio", "Share of pupils placed by the latest run", ["programme"])
SPLITS = Gauge("girlsday_matching_splits", "Groups split by the latest run (extra parts)", ["programme"])
MEAN_DISTANCE = Gauge("girlsday_matching_mean_distance_km", "Mean travel distance per placed pupil, latest run", ["programme"])
WAITLIST = Gauge("girlsday_matching_waitlist_size", "Groups or pupils on the waiting list, latest run", ["programme"])


def observe_run(programme: str, mode: str, seconds: float, quality, waiting: int) -> None:
    RUN_DURATION.labels(mode).observe(seconds)
    PLACED_RATIO.labels(programme).set(quality.placed_ratio)
    SPLITS.labels(programme).set(quality.splits)
    MEAN_DISTANCE.labels(programme).set(quality.mean_distance_km or 0.0)
    WAITLIST.labels(programme).set(waiting)
