"""Projection lag: how far each durable consumer's ack floor is behind its stream's last sequence."""

from __future__ import annotations

import asyncio
import contextlib

from services.reporting.handlers import SUBSCRIPTIONS, projections
from services.reporting.metrics import PROJECTION_LAG


async def measure_lag(js, topology, service: str = "reporting") -> dict[str, int]:
    lags = {}
    for stream in SUBSCRIPTIONS:
        name = topology.stream_of_service(stream)
        with contextlib.suppress(Exception):
            last = (await js.stream_info(name)).state.last_seq
            try:
                info = await js.consumer_info(name, projections.durable(service, stream))
                floor = info.ack_floor.stream_seq if info.ack_floor else 0
            except Exception:
                floor = 0
            lags[stream] = max(last - floor, 0)
            PROJECTION_LAG.labels(stream).set(lags[stream])
    return lags


async def watch_lag(js, topology, interval: float) -> None:
    while True:
        await measure_lag(js, topology)
        await asyncio.sleep(interval)
