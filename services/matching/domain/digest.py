"""A stable digest of a run's inputs: same instance, seed and parameters -> same digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict


def inputs_digest(units: list, activities: list, seed: int, parameters: dict) -> str:
    def plain(x):
        d = asdict(x)
        return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in d.items()}

    payload = {
        "units": sorted((plain(u) for u in units), key=lambda d: d["id"]),
        "activities": sorted((plain(a) for a in activities), key=lambda d: d["id"]),
        "seed": seed,
        "parameters": parameters,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
