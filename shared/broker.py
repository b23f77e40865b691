"""The broker connection and the one consumer story every service uses: JetStream pull consumers.

Each consuming purpose of a service (`Consumer`) reads each of its streams through one durable pull
consumer, shared by every replica (`<service>-<purpose>-<stream>`). A `Subscription` runs one loop
per stream on nats-py's public API (`add_consumer`, `pull_subscribe_bind`, `fetch`):

- wait up to `idle_fetch_s` for the next message, then gather whatever else is there for up to
  `gather_s` (at most `batch_size` in all): one fetched batch;
- deliver the batch with the platform's delivery rules (`deliver`), then fetch again.

Delivery rules, so service handlers stay 3-15 lines of business logic:

- a message must parse as a CloudEvent of a known contract; if not, it can never succeed and is
  dead-lettered at once with the validation error (the consumer keeps going);
- contracts are read tolerantly (`Contract.read`: unknown fields ignored), so a producer deployed
  with an added field before its consumers breaks nothing;
- a type this consumer has no handler for is acked and counted as `skipped`;
- the messages of a fetched batch are handled in stream order in ONE database transaction,
  together with their inbox claims (`shared.batching.batch_or_each`), so a redelivered or
  re-published event changes nothing twice;
- if a handler fails, the batch's transaction is rolled back and its events are handled again one
  per transaction; a failing event is retried with a growing delay (nak with delay), and after
  `max_deliver` deliveries, or at once for a `PermanentError`, it goes to the dead-letter stream
  with the reason and is acked. The server-side consumer has no delivery limit, so nothing is ever
  dropped silently: the wrapper is what bounds deliveries;
- stopping lets the fetch in progress end and its batch be handled, so no message is left unacked.

The durable's configuration is created or updated at every start (the JetStream API's
create-or-update), so a changed `ack_wait_s` takes effect with the next deploy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.batching import batch_or_each
from shared.contracts import Contract
from shared.envelope import CloudEvent
from shared.inbox import claim_many
from shared.logs import current_event_id
from shared.metrics import CONSUMER_BATCH, DEAD_LETTERS, EVENTS_CONSUMED, faststream_middleware
from shared.topology import Topology

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.5, 2.0, 5.0, 15.0, 30.0, 60.0)

Handler = Callable[[CloudEvent, Contract, AsyncSession], Awaitable[None]]


class PermanentError(Exception):
    """Raised by a handler for an event that can never succeed (e.g. it names an unknown programme)."""


def make_broker(service: str, servers: list[str], *, graceful_timeout: float = 15.0) -> NatsBroker:
    """The service's NATS connection (FastStream's broker: connection options, reconnects)."""
    return NatsBroker(
        servers,
        name=f"girlsday-{service}",
        graceful_timeout=graceful_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        middlewares=[faststream_middleware()],
        logger=logging.getLogger(f"faststream.{service}"),
        log_level=logging.DEBUG,
    )


@dataclass
class Consumer:
    """A consuming purpose of a service: one durable consumer per stream it reads.

    `handlers` maps each contract this purpose handles to its handler; every other type on the
    stream is skipped and counted.
    """

    purpose: str  # e.g. "projections" -> durable "reporting-projections-registration"
    streams: tuple[str, ...]  # owning services whose streams are read, e.g. ("registration",)
    handlers: Mapping[type[Contract], Handler]
    subjects: str = ">"  # which subjects of each stream, after `<stream>.` (e.g. "audit.recorded")
    batch_size: int = 100
    ack_wait_s: float = 30.0  # a message not acked in time (crashed consumer) is redelivered
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    idle_fetch_s: float = 1.0  # how long one fetch waits for a first message (and a stop waits for it)
    gather_s: float = 0.01  # after the first message, how long to gather more for the same batch
    by_type: dict[str, tuple[type[Contract], Handler]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_type = {contract.type_name(): (contract, handler) for contract, handler in self.handlers.items()}

    def durable(self, service: str, stream: str) -> str:
        return f"{service}-{self.purpose}-{stream}"

    def consumer_config(self, durable: str, filter_subject: str | None = None) -> ConsumerConfig:
        return ConsumerConfig(
            name=durable,
            durable_name=durable,
            filter_subject=filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,
            deliver_policy=self.deliver_policy,
            max_ack_pending=1000,
        )


@dataclass
class DeliveryRules:
    service: str
    topology: Topology
    sessions: async_sessionmaker
    inbox: Table
    max_deliver: int

    def retry_delay(self, delivered: int) -> float:
        return RETRY_DELAYS_S[min(delivered - 1, len(RETRY_DELAYS_S) - 1)]


class Subscription:
    """A consumer's pull loops, one per stream it reads: `await start(connection)`, `await stop()`."""

    def __init__(self, consumer: Consumer, rules: DeliveryRules) -> None:
        self.consumer, self.rules = consumer, rules
        self.durables = [consumer.durable(rules.service, stream) for stream in consumer.streams]
        self._tasks: list[asyncio.Task] = []
        self._stopping = asyncio.Event()

    async def start(self, connection: Client) -> None:
        js = connection.jetstream()
        self._stopping.clear()
        for stream, durable in zip(self.consumer.streams, self.durables):
            stream_name = self.rules.topology.stream_of_service(stream)
            subjects = self.consumer.subjects
            only = self.rules.topology.subject(f"{stream}.{subjects}") if subjects != ">" else None
            await js.add_consumer(stream_name, config=self.consumer.consumer_config(durable, only))
            pull = await js.pull_subscribe_bind(durable=durable, stream=stream_name)
            self._tasks.append(asyncio.create_task(self._pull(js, pull, durable), name=f"consumer-{durable}"))

    async def stop(self, timeout: float | None = None) -> None:
        """Let each loop handle the batch it is fetching, then stop; cancelled after `timeout`."""
        self._stopping.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout or self.consumer.idle_fetch_s + 15)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _pull(self, js, pull, durable: str) -> None:
        consumer = self.consumer
        try:
            while not self._stopping.is_set():
                try:
                    batch = await pull.fetch(1, timeout=consumer.idle_fetch_s)
                except TimeoutError:  # nothing arrived (nats.errors.TimeoutError is one too)
                    continue
                except Exception as exc:  # disconnected, or the server is restarting: try again
                    log.warning("%s: fetch failed (%r); trying again in 1 s", durable, exc)
                    await asyncio.sleep(1)
                    continue
                if consumer.batch_size > 1:
                    with contextlib.suppress(Exception):  # nothing more there (a timeout) is fine
                        batch += await pull.fetch(consumer.batch_size - 1, timeout=consumer.gather_s)
                try:
                    await deliver(consumer, durable, self.rules, js, batch)
                except Exception:  # unexpected: the unacked messages are redelivered after ack_wait
                    log.exception("%s: batch of %d failed", durable, len(batch))
        finally:
            with contextlib.suppress(Exception):
                await pull.unsubscribe()


@dataclass
class _Delivery:
    raw: Msg
    delivered: int
    event: CloudEvent
    data: Contract
    handler: Handler


async def deliver(consumer: Consumer, durable: str, rules: DeliveryRules, js, raws: list[Msg]) -> None:
    """Handle a fetched batch: all of it in one transaction, in stream order, or, if any handler
    fails, one event per transaction (so only the failing event is retried or dead-lettered)."""
    ready = [item for raw in raws if (item := await _admit(consumer, durable, rules, js, raw)) is not None]
    if not ready:
        return
    CONSUMER_BATCH.labels(rules.service, durable).observe(len(ready))

    async def handle(items: list[_Delivery]) -> list[str]:
        outcomes = []
        async with rules.sessions() as session, session.begin():
            fresh = await claim_many(session, rules.inbox, durable, [item.event.id for item in items])
            for item in items:
                if item.event.id in fresh:
                    fresh.discard(item.event.id)  # the same event twice in one batch: once
                    with _event_context(item.event.id):
                        await item.handler(item.event, item.data, session)
                    outcomes.append("processed")
                else:
                    outcomes.append("duplicate")
        return outcomes

    for item, outcome in zip(ready, await batch_or_each(ready, handle)):
        await _settle(rules, durable, js, item, outcome)


async def _admit(consumer: Consumer, durable: str, rules: DeliveryRules, js, raw: Msg) -> _Delivery | None:
    """Parse and check a message; settles (acks, dead-letters) the ones that cannot be handled."""
    delivered = raw.metadata.num_delivered if raw.metadata else 1
    try:
        event = CloudEvent.model_validate_json(raw.data)
    except ValidationError as exc:
        await _dead_letter(rules, durable, js, raw, f"not a CloudEvent: {_first_error(exc)}")
        return None
    known = consumer.by_type.get(event.type)
    if known is None:
        EVENTS_CONSUMED.labels(rules.service, durable, event.type, "skipped").inc()
        await raw.ack()
        return None
    contract, handler = known
    try:
        data = contract.read(event.data)
    except ValidationError as exc:
        await _dead_letter(rules, durable, js, raw, f"{event.type} does not match its contract: {_first_error(exc)}", event.type)
        return None
    if delivered > rules.max_deliver:  # it crashed the consumer on earlier deliveries
        await _dead_letter(rules, durable, js, raw, f"gave up after {delivered - 1} deliveries", event.type)
        return None
    return _Delivery(raw, delivered, event, data, handler)


async def _settle(rules: DeliveryRules, durable: str, js, item: _Delivery, outcome: str | BaseException) -> None:
    """Ack what is done; dead-letter what can never succeed; retry the rest with a delay."""
    event_type = item.event.type
    with _event_context(item.event.id):
        if isinstance(outcome, PermanentError):
            await _dead_letter(rules, durable, js, item.raw, str(outcome), event_type)
        elif isinstance(outcome, BaseException):
            if item.delivered >= rules.max_deliver:
                await _dead_letter(rules, durable, js, item.raw, f"failed {item.delivered} times, last: {outcome!r}", event_type)
            else:
                log.warning("handler failed (delivery %d of %d), retrying: %r", item.delivered, rules.max_deliver, outcome)
                EVENTS_CONSUMED.labels(rules.service, durable, event_type, "retried").inc()
                await item.raw.nak(delay=rules.retry_delay(item.delivered))
        else:
            EVENTS_CONSUMED.labels(rules.service, durable, event_type, outcome).inc()
            await item.raw.ack()


@contextlib.contextmanager
def _event_context(event_id: str):
    token = current_event_id.set(event_id)
    try:
        yield
    finally:
        current_event_id.reset(token)


async def _dead_letter(rules: DeliveryRules, durable: str, js, raw: Msg, reason: str, event_type: str = "unknown") -> None:
    """Store the message with its reason in the dead-letter stream, then ack it.

    If the dead-letter stream cannot be reached the message is nak'ed instead, never dropped.
    """
    stream_seq = raw.metadata.sequence.stream if raw.metadata else 0
    headers = {
        "Nats-Msg-Id": f"{durable}:{raw.metadata.stream if raw.metadata else ''}:{stream_seq}",
        "Girlsday-Reason": reason[:1000],
        "Girlsday-Consumer": durable,
        "Girlsday-Original-Subject": raw.subject,
        "Girlsday-Original-Sequence": str(stream_seq),
    }
    subject = rules.topology.dead_letter_subject(rules.service, durable, raw.subject)
    try:
        await js.publish(subject, raw.data, stream=rules.topology.stream_for_subject(rules.topology.unqualified(subject)), headers=headers)
    except Exception as exc:
        log.error("could not dead-letter message (will be redelivered): %r", exc)
        await raw.nak(delay=rules.retry_delay(2))
        return
    log.error("dead-lettered: %s", reason, extra={"consumer": durable, "subject": raw.subject})
    DEAD_LETTERS.labels(rules.service, durable).inc()
    EVENTS_CONSUMED.labels(rules.service, durable, event_type, "dead_lettered").inc()
    await raw.ack()


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(body)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
