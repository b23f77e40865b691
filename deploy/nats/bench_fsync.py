"""What `sync_interval: always` costs: JetStream publish throughput with fsync per write vs the default.

    .venv/bin/python deploy/nats/bench_fsync.py [--messages 3000]

Starts a throw-away nats-server per setting (file storage in a temp dir on this machine's disk),
publishes 1 KiB events one at a time (wait for each PubAck, like a cautious relay) and in
batches of 100 (publish_async, like shared/outbox.py). Prints figures; last line is JSON.
Not run by the tests. Figures depend heavily on the disk; the machine is shared, so they are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import nats

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.deploy import natsproc  # noqa: E402

PAYLOAD = b"x" * 1024


async def measure(url: str, messages: int) -> dict[str, float]:
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=10)
    await js.add_stream(name="BENCH", subjects=["bench.>"])
    started = time.perf_counter()
    for i in range(messages):
        await js.publish("bench.one", PAYLOAD, headers={"Nats-Msg-Id": f"one-{i}"})
    one_by_one = messages / (time.perf_counter() - started)
    started = time.perf_counter()
    for offset in range(0, messages, 100):
        futures = [await js.publish_async("bench.batch", PAYLOAD, headers={"Nats-Msg-Id": f"b-{offset + i}"}) for i in range(100)]
        await asyncio.gather(*futures)
    batched = messages / (time.perf_counter() - started)
    await nc.close()
    return {"one_by_one_per_s": round(one_by_one), "batched_per_s": round(batched)}


def run(setting: str, messages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.conf"
        sync = f"sync_interval: {setting}" if setting != "default" else ""
        config.write_text(f"jetstream {{ store_dir: $NATS_STORE_DIR\n {sync} }}\n")
        proc = natsproc.start(config, Path(tmp) / "server")
        try:
            return asyncio.run(measure(proc.client_url, messages))
        finally:
            proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    results = {}
    for setting in ("default", "always"):
        results[setting] = run(setting, args.messages)
        print(
            f"sync_interval={setting:8s} one-by-one {results[setting]['one_by_one_per_s']:>7} msg/s   "
            f"batched {results[setting]['batched_per_s']:>7} msg/s"
        )
    print(json.dumps({"messages": args.messages, "payload_bytes": len(PAYLOAD), **results}))


if __name__ == "__main__":
    main()
