"""Staff decisions are inputs: a group moved by hand is pinned, refused when it breaks a rule, and
two staff moving the same group at once -- one wins, the other gets 409 with the current state;
the pin holds in the next run and through a re-allocation after publishing."""

import asyncio

from shared import contracts as c
from tests.conftest import ADMIN
from tests.helpers import eventually

from .test_event_flow import P, matching_events, registrations, send


async def test_a_group_moved_by_hand_is_pinned_through_a_new_run_and_a_capacity_cut_and_conflicts_and_rules_are_refused(
    start_service, js, topology
):
    for data in registrations():
        await send(js, topology, data)
    async with start_service("matching") as client:

        async def ready():
            r = await client.post(f"/api/programmes/{P}/runs", json={"seed": 1}, headers=ADMIN)
            return r.json() if r.status_code == 201 and r.json()["quality"]["placed_pupils"] == 45 else None

        run = (await eventually(ready, timeout=30))["run_id"]
        state = (await client.get(f"/api/runs/{run}/groups/g1", headers=ADMIN)).json()
        assert [p["activity_id"] for p in state["parts"]] == ["lab"] and not state["pinned"]

        move = {"version": state["version"], "reason": "school asked for the plant", "parts": [{"activity_id": "plant", "pupils": 20}]}
        first, second = await asyncio.gather(
            client.put(f"/api/runs/{run}/groups/g1/placement", json=move, headers=ADMIN),
            client.put(f"/api/runs/{run}/groups/g1/placement", json=move, headers=ADMIN),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        lost = first if first.status_code == 409 else second
        current = lost.json()["current"]
        assert [p["activity_id"] for p in current["parts"]] == ["plant"] and current["pinned"]

        wrong = {"version": current["version"], "reason": "try", "parts": [{"activity_id": "lab", "pupils": 10}]}
        refused = await client.put(f"/api/runs/{run}/groups/g1/placement", json=wrong, headers=ADMIN)
        assert refused.status_code == 422
        assert [r["rule"] for r in refused.json()["rules"]] == ["pupil_total"]
        assert "de groep heeft er 20" in refused.json()["rules"][0]["message"]

        # A new run keeps the pin; publish it, then the plant's capacity is cut to 30: the pinned
        # group stays although it is farther away, the other one moves.
        again = (await client.post(f"/api/programmes/{P}/runs", json={"seed": 2}, headers=ADMIN)).json()
        placed = {p["group_id"]: (p["activity_id"], p["reason"]) for p in
                  (await client.get(f"/api/programmes/{P}/placements?run_id={again['run_id']}", headers=ADMIN)).json()}  # fmt: skip
        assert placed["g1"] == ("plant", "pinned by staff")
        assert (await client.post(f"/api/runs/{again['run_id']}/publish", headers=ADMIN)).status_code == 200
        await eventually(lambda: _has(js, topology, "completed"))
        before = len(await matching_events(js, topology))
        await send(js, topology, c.ActivityUpdated(activity_id="plant", company_id="k1", programme_id=P, title="Plant",
                                                   sector="energy", capacity=30, levels=["vo"], postcode="3812", revision=2))  # fmt: skip

        async def moved():
            new = (await matching_events(js, topology))[before:]
            return new if any(t == "assigned" for t, _ in new) else None

        new = await eventually(moved, timeout=30)
        assert [(t, d["group_id"]) for t, d in new] == [("cancelled", "g2"), ("assigned", "g2")]
        assert new[1][1]["activity_id"] == "lab" and new[1][1]["previous_activity_id"] == "plant"
        now = {p["group_id"]: p["activity_id"] for p in (await client.get(f"/api/programmes/{P}/placements", headers=ADMIN)).json()}
        assert now == {"g1": "plant", "g2": "lab"}
        why = (await client.get(f"/api/programmes/{P}/explanations/g1", headers=ADMIN)).json()
        assert why["pinned"] and "vastgezet" in why["why"]


async def _has(js, topology, kind: str) -> bool:
    return kind in [t for t, _ in await matching_events(js, topology)]
