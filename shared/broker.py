"""FastStream broker factory and the one consumer wrapper every service uses.

The wrapper turns JetStream messages into typed events and applies the platform's delivery rules,
so service handlers stay 3-15 lines of business logic:

- a message must parse as a CloudEvent of a known contract; if not, it can never succeed and is
  dead-lettered at once with the validation error (the consumer keeps going);
- a type this consumer has no handler for is acked and counted as `skipped`;
- the messages of a fetched batch are handled in stream order in ONE database transaction,
  together with their inbox claims, so a redelivered or re-published event changes nothing twice;
- if a handler fails, the batch's transaction is rolled back and its events are handled again one
  per transaction; a failing event is retried with a growing delay (nak with delay), and after
  `max_deliver` deliveries, or at once for a `PermanentError`, it goes to the dead-letter stream
  with the reason and is acked. The server-side consumer has no delivery limit, so nothing is ever
  dropped silently: the wrapper is what bounds deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from nats.aio.msg import Msg
from nats.js.api import AckPolicy as ServerAckPolicy
from nats.js.api import DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contracts import Contract
from shared.envelope import CloudEvent
from shared.inbox import claim, claim_many
from shared.logs import current_event_id
from shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED, faststream_middleware
from shared.topology import Topology

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.5, 2.0, 5.0, 15.0, 30.0, 60.0)

Handler = Callable[[CloudEvent, Contract, AsyncSession], Awaitable[None]]


class PermanentError(Exception):
    """Raised by a handler for an event that can never succeed (e.g. it names an unknown programme)."""


class _IdleFetchNoise(logging.Filter):
    """Hide FastStream's supervisor noise about idle pull consumers.

    nats-py 2.16's `fetch` raises a plain `asyncio.TimeoutError` when no message arrives, while
    FastStream 0.7.8's pull loop only suppresses `nats.errors.TimeoutError`; its supervisor then
    restarts the loop at once and logs a traceback plus "callback ... is being executed". Nothing
    is lost; only these records are dropped (any other error still shows).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("callback for ") and message.endswith("is being executed..."):
            return False
        error = record.exc_info[1] if record.exc_info else None
        return not (type(error) is TimeoutError and "raised an exception, retrying" in message)


def make_broker(service: str, servers: list[str], *, graceful_timeout: float = 15.0) -> NatsBroker:
    logger = logging.getLogger(f"faststream.{service}")
    if not any(isinstance(f, _IdleFetchNoise) for f in logger.filters):
        logger.addFilter(_IdleFetchNoise())
    return NatsBroker(
        servers,
        name=f"girlsday-{service}",
        graceful_timeout=graceful_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        middlewares=[faststream_middleware()],
        logger=logger,
        log_level=logging.DEBUG,  # FastStream's per-message lines; the consumer wrapper logs what matters
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
    batch_size: int = 100
    ack_wait_s: float = 30.0  # a message not acked in time (crashed consumer) is redelivered
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    _by_type: dict[str, tuple[type[Contract], Handler]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_type = {contract.type_name(): (contract, handler) for contract, handler in self.handlers.items()}

    def durable(self, service: str, stream: str) -> str:
        return f"{service}-{self.purpose}-{stream}"


@dataclass
class DeliveryRules:
    service: str
    topology: Topology
    sessions: async_sessionmaker
    inbox: Table
    max_deliver: int
    broker: NatsBroker

    def retry_delay(self, delivered: int) -> float:
        return RETRY_DELAYS_S[min(delivered - 1, len(RETRY_DELAYS_S) - 1)]


def subscribe(broker: NatsBroker, consumer: Consumer, rules: DeliveryRules) -> None:
    """Register one pull subscriber per stream of the consumer, with the delivery rules above."""
    for stream in consumer.streams:
        durable = consumer.durable(rules.service, stream)
        subscriber = broker.subscriber(
            rules.topology.subject(f"{stream}.>"),
            stream=JStream(name=rules.topology.stream_of_service(stream), declare=False),
            durable=durable,
            pull_sub=PullSub(batch_size=consumer.batch_size, timeout=1.0),
            config=ConsumerConfig(
                durable_name=durable,
                ack_policy=ServerAckPolicy.EXPLICIT,
                ack_wait=consumer.ack_wait_s,
                max_deliver=-1,
                deliver_policy=consumer.deliver_policy,
                max_ack_pending=1000,
            ),
            ack_policy=AckPolicy.MANUAL,
            title=durable,
        )
        subscriber(_make_wrapper(consumer, durable, rules))


def _make_wrapper(consumer: Consumer, durable: str, rules: DeliveryRules):
    batcher = _Batcher(lambda raws: deliver(consumer, durable, rules, raws))

    async def handle(msg: NatsMessage) -> None:
        await batcher.submit(msg.raw_message)

    handle.__name__ = durable.replace("-", "_")
    return handle


class _Batcher:
    """Gathers the messages FastStream hands over one by one into batches for `deliver`.

    FastStream's pull loop starts one task per message of a fetched batch, all at once; each task
    queues its message here (in stream order) and waits. One worker takes whatever is queued and
    handles it as a batch. (FastStream's own batch mode keeps fetching until the batch is full, and
    with nats-py 2.16 loses the partial batch to redelivery when a fetch times out.)
    """

    def __init__(self, process: Callable[[list[Msg]], Awaitable[None]]) -> None:
        self.process = process
        self.queued: list[tuple[Msg, asyncio.Future]] = []
        self.worker: asyncio.Task | None = None

    async def submit(self, raw: Msg) -> None:
        done = asyncio.get_running_loop().create_future()
        self.queued.append((raw, done))
        if self.worker is None or self.worker.done():
            self.worker = asyncio.create_task(self._work())
        await done

    async def _work(self) -> None:
        await asyncio.sleep(0)  # let the other tasks of the fetched batch queue their messages
        while self.queued:
            batch, self.queued = self.queued, []
            try:
                await self.process([raw for raw, _ in batch])
                failure = None
            except Exception as exc:  # unexpected: unacked messages are redelivered after ack_wait
                log.exception("consumer batch failed")
                failure = exc
            for _, done in batch:
                if done.done():  # its task was cancelled (shutdown)
                    continue
                if failure is None:
                    done.set_result(None)
                else:
                    done.set_exception(failure)


@dataclass
class _Delivery:
    raw: Msg
    delivered: int
    event: CloudEvent
    data: Contract
    handler: Handler
    outcome: str | Exception = "pending"


async def deliver(consumer: Consumer, durable: str, rules: DeliveryRules, raws: list[Msg]) -> None:
    """Handle a fetched batch: all of it in one transaction, in stream order.

    If any handler fails, that transaction is rolled back and the batch is handled again one event
    per transaction, so only the failing event is retried or dead-lettered.
    """
    ready = [item for raw in raws if (item := await _admit(consumer, durable, rules, raw)) is not None]
    if not ready:
        return
    try:
        async with rules.sessions() as session, session.begin():
            fresh = await claim_many(session, rules.inbox, durable, [item.event.id for item in ready])
            for item in ready:
                if item.event.id in fresh:
                    fresh.discard(item.event.id)  # the same event twice in one batch: once
                    with _event_context(item.event.id):
                        await item.handler(item.event, item.data, session)
                    item.outcome = "processed"
                else:
                    item.outcome = "duplicate"
    except Exception:
        for item in ready:
            await _one_by_one(rules, durable, item)
    else:
        for item in ready:
            await _settle(rules, durable, item)


async def _admit(consumer: Consumer, durable: str, rules: DeliveryRules, raw: Msg) -> _Delivery | None:
    """Parse and check a message; settles (acks, dead-letters) the ones that cannot be handled."""
    delivered = raw.metadata.num_delivered if raw.metadata else 1
    try:
        event = CloudEvent.model_validate_json(raw.data)
    except ValidationError as exc:
        await _dead_letter(rules, durable, raw, f"not a CloudEvent: {_first_error(exc)}")
        return None
    known = consumer._by_type.get(event.type)
    if known is None:
        EVENTS_CONSUMED.labels(rules.service, durable, event.type, "skipped").inc()
        await raw.ack()
        return None
    contract, handler = known
    try:
        data = contract.model_validate(event.data)
    except ValidationError as exc:
        await _dead_letter(rules, durable, raw, f"{event.type} does not match its contract: {_first_error(exc)}", event.type)
        return None
    if delivered > rules.max_deliver:  # it crashed the consumer on earlier deliveries
        await _dead_letter(rules, durable, raw, f"gave up after {delivered - 1} deliveries", event.type)
        return None
    return _Delivery(raw, delivered, event, data, handler)


async def _one_by_one(rules: DeliveryRules, durable: str, item: _Delivery) -> None:
    with _event_context(item.event.id):
        try:
            async with rules.sessions() as session, session.begin():
                fresh = await claim(session, rules.inbox, durable, item.event.id)
                if fresh:
                    await item.handler(item.event, item.data, session)
            item.outcome = "processed" if fresh else "duplicate"
        except Exception as exc:
            item.outcome = exc
    await _settle(rules, durable, item)


async def _settle(rules: DeliveryRules, durable: str, item: _Delivery) -> None:
    """Ack what is done; dead-letter what can never succeed; retry the rest with a delay."""
    event_type, outcome = item.event.type, item.outcome
    with _event_context(item.event.id):
        if isinstance(outcome, PermanentError):
            await _dead_letter(rules, durable, item.raw, str(outcome), event_type)
        elif isinstance(outcome, Exception):
            if item.delivered >= rules.max_deliver:
                await _dead_letter(rules, durable, item.raw, f"failed {item.delivered} times, last: {outcome!r}", event_type)
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


async def _dead_letter(rules: DeliveryRules, durable: str, raw: Msg, reason: str, event_type: str = "unknown") -> None:
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
    subject = rules.topology.dead_letter_subject(rules.service, durable)
    try:
        await rules.broker.connection.jetstream().publish(
            subject, raw.data, stream=rules.topology.stream_for_subject(rules.topology.unqualified(subject)), headers=headers
        )
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
