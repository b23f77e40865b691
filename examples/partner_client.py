"""Example partner client: follow VHTO's live programme figures (reporting.public.*.kpi.updated).

    python examples/partner_client.py --url nats://partner-demo:SECRET@nats.example.org:4222 \
        --user partner-demo [--programme gd2026] [--once]

Needs only `nats-py` (pip install nats-py). It keeps a durable consumer named like your NATS user on
the REPORTING stream, so after any downtime it continues where it stopped: nothing is missed,
nothing is shown twice (an event is acknowledged only after it was handled). See docs/partners.md.

Each event is a CloudEvent (JSON) whose `data` holds `programme_id`, `as_of`, `figures` (a count
under `threshold` is null: suppressed to protect small groups) and `suppressed` (their names).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError


async def follow(
    url: str,
    user: str,
    *,
    stream: str = "REPORTING",
    namespace: str = "",
    programme: str | None = None,
    on_kpis: Callable[[dict], None] = print,
    once: bool = False,
) -> int:
    """Hand every new KPI event to `on_kpis` (its CloudEvent as a dict); returns how many."""
    prefix = f"{namespace}." if namespace else ""
    nc = await nats.connect(url, inbox_prefix=f"_INBOX.{user}".encode(), name=user)
    js = nc.jetstream()
    handled = 0
    try:
        try:
            await js.consumer_info(stream, user)
        except NotFoundError:  # first run: start with the newest figures of every programme
            await js.add_consumer(
                stream,
                ConsumerConfig(
                    name=user,
                    durable_name=user,
                    filter_subject=f"{prefix}reporting.public.>",
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
                    ack_wait=30,
                    max_deliver=20,
                ),
            )
        sub = await js.pull_subscribe_bind(durable=user, stream=stream, inbox_prefix=f"_INBOX.{user}".encode())
        while True:
            try:
                messages = await sub.fetch(100, timeout=2)
            except TimeoutError:  # nats-py raises either its own or asyncio's
                if once:
                    return handled
                continue
            for msg in messages:
                event = json.loads(msg.data)
                if programme is None or event["data"]["programme_id"] == programme:
                    on_kpis(event)
                    handled += 1
                await msg.ack()
    finally:
        await nc.close()


def show(event: dict) -> None:
    data = event["data"]
    print(f"== {data['programme_id']} as of {data['as_of']} (counts under {data['threshold']} suppressed)")
    for name, value in sorted(data["figures"].items()):
        print(f"  {name:<36} {'<' + str(data['threshold']) if value is None else value}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Follow VHTO's live programme figures.")
    parser.add_argument("--url", default="nats://127.0.0.1:4222", help="NATS URL, credentials may be in it")
    parser.add_argument("--user", default="partner-demo", help="your NATS user; also the durable consumer name")
    parser.add_argument("--stream", default="REPORTING")
    parser.add_argument("--namespace", default="", help="only for test platforms (GIRLSDAY_NAMESPACE)")
    parser.add_argument("--programme", help="only this programme")
    parser.add_argument("--once", action="store_true", help="show what is new, then stop")
    args = parser.parse_args()
    asyncio.run(
        follow(args.url, args.user, stream=args.stream, namespace=args.namespace, programme=args.programme, on_kpis=show, once=args.once)
    )


if __name__ == "__main__":
    main()
