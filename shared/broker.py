"""FastStream broker factory and the one consumer wrapper every service uses.

The wrapper turns a JetStream message into a typed event and applies the platform's delivery
rules, so service handlers stay 3-15 lines of business logic:

- the message must parse as a CloudEvent of a known contract; if not, it can never succeed and is
  dead-lettered at once with the validation error (the consumer keeps going);
- a type this consumer has no handler for is acked and counted as `skipped`;
- the handler runs in one database transaction together with the inbox claim, so a redelivered or
  re-published event changes nothing twice;
- a failing handler is retried with a growing delay (nak with delay); after `max_deliver`
  deliveries, or at once for a `PermanentError`, the message goes to the dead-letter stream with the
  reason and is acked. The server-side consumer has no delivery limit, so nothing is ever dropped
  silently: the wrapper is what bounds deliveries.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from nats.js.api import AckPolicy as ServerAckPolicy
from nats.js.api import DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contracts import Contract
from shared.envelope import CloudEvent
from shared.inbox import claim
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
        middlewares=[faststream_middleware(service)],
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
    async def handle(msg: NatsMessage) -> None:
        await deliver(consumer, durable, rules, msg)

    handle.__name__ = durable.replace("-", "_")
    return handle


async def deliver(consumer: Consumer, durable: str, rules: DeliveryRules, msg: NatsMessage) -> None:
    raw = msg.raw_message
    delivered = raw.metadata.num_delivered if raw.metadata else 1
    counted = EVENTS_CONSUMED.labels
    try:
        event = CloudEvent.model_validate_json(msg.body)
    except ValidationError as exc:
        await _dead_letter(rules, durable, msg, f"not a CloudEvent: {_first_error(exc)}")
        return
    token = current_event_id.set(event.id)
    try:
        known = consumer._by_type.get(event.type)
        if known is None:
            counted(rules.service, durable, event.type, "skipped").inc()
            await msg.ack()
            return
        contract, handler = known
        try:
            data = contract.model_validate(event.data)
        except ValidationError as exc:
            await _dead_letter(rules, durable, msg, f"{event.type} does not match its contract: {_first_error(exc)}", event.type)
            return
        if delivered > rules.max_deliver:  # it crashed the consumer on earlier deliveries
            await _dead_letter(rules, durable, msg, f"gave up after {delivered - 1} deliveries", event.type)
            return
        try:
            async with rules.sessions() as session, session.begin():
                fresh = await claim(session, rules.inbox, durable, event.id)
                if fresh:
                    await handler(event, data, session)
        except PermanentError as exc:
            await _dead_letter(rules, durable, msg, str(exc), event.type)
            return
        except Exception as exc:
            if delivered >= rules.max_deliver:
                await _dead_letter(rules, durable, msg, f"failed {delivered} times, last: {exc!r}", event.type)
            else:
                log.warning("handler failed (delivery %d of %d), retrying: %r", delivered, rules.max_deliver, exc)
                counted(rules.service, durable, event.type, "retried").inc()
                await msg.nack(delay=rules.retry_delay(delivered))
            return
        counted(rules.service, durable, event.type, "processed" if fresh else "duplicate").inc()
        await msg.ack()
    finally:
        current_event_id.reset(token)


async def _dead_letter(rules: DeliveryRules, durable: str, msg: NatsMessage, reason: str, event_type: str = "unknown") -> None:
    """Store the message with its reason in the dead-letter stream, then ack it.

    If the dead-letter stream cannot be reached the message is nak'ed instead, never dropped.
    """
    raw = msg.raw_message
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
            subject, msg.body, stream=rules.topology.stream_for_subject(rules.topology.unqualified(subject)), headers=headers
        )
    except Exception as exc:
        log.error("could not dead-letter message (will be redelivered): %r", exc)
        await msg.nack(delay=rules.retry_delay(2))
        return
    log.error("dead-lettered: %s", reason, extra={"consumer": durable, "subject": raw.subject})
    DEAD_LETTERS.labels(rules.service, durable).inc()
    EVENTS_CONSUMED.labels(rules.service, durable, event_type, "dead_lettered").inc()
    await msg.ack()


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(body)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
