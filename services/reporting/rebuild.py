"""Rebuild every projection from scratch by replaying the owning streams.

Events are read with an ephemeral pull consumer per stream, merged in memory (the same merge as
live consumption, domain.projection), and written in one transaction that replaces every projection
row. Events that arrive meanwhile are then merged on top the live way; since merging is idempotent
and order-free, the result equals what live consumption gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from services.reporting import store
from services.reporting.domain.facts import facts_for
from services.reporting.domain.projection import Projection
from services.reporting.handlers import SUBSCRIPTIONS
from services.reporting.metrics import REBUILD_EVENTS
from shared import db
from shared.asyncapi import envelope_model
from shared.contracts import contract_for_type
from shared.envelope import CloudEvent
from shared.settings import Settings
from shared.topology import Topology

Progress = Callable[[str, int, int], None]  # stream, done, total


@dataclass
class RebuildResult:
    events: int = 0
    skipped: int = 0
    malformed: int = 0
    rows: int = 0
    caught_up: int = 0
    seconds: float = 0.0
    read_seconds: float = 0.0
    per_stream: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


_TYPE_KEY = b'"type":"'


def _parse(body: bytes):
    """(event, data) in one validation pass where the type can be read off the bytes.

    Events this platform writes carry `"type":"..."` verbatim; validating the body straight into
    the contract's own envelope model (shared.asyncapi.envelope_model) avoids building `data` as a
    dict and validating it a second time, the larger part of a rebuild's work.
    """
    start = body.find(_TYPE_KEY)
    if start >= 0:
        start += len(_TYPE_KEY)
        end = body.find(b'"', start)
        try:
            contract = contract_for_type(body[start:end].decode())
        except (KeyError, UnicodeDecodeError):
            contract = None
        if contract is not None:
            event = envelope_model(contract).model_validate_json(body, extra="ignore")  # read tolerantly
            if event.type == contract.type_name():
                return event, event.data
    event = CloudEvent.model_validate_json(body)
    return event, contract_for_type(event.type).read(event.data)


def _apply(projection: Projection, body: bytes, result: RebuildResult) -> list | None:
    try:
        event, data = _parse(body)
    except KeyError:
        result.skipped += 1
        return None
    except ValidationError:
        result.malformed += 1  # live consumption dead-letters these; they change no projection
        return None
    facts = facts_for(data, event_id=event.id, time=event.time)
    projection.apply(facts)
    return facts


@contextlib.contextmanager
def _collector_paused():
    """The cyclic garbage collector off while the rebuild runs.

    A replay allocates hundreds of thousands of long-lived objects (entity states) and no reference
    cycles to speak of; the collector kept re-scanning them, a quarter of the CPU of a rebuild.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _stream_sequence(msg) -> int:
    """The stream sequence from the reply subject ($JS.ACK.<stream>.<consumer>.<n>.<sseq>...)."""
    tokens = msg.reply.split(".")
    return int(tokens[5]) if len(tokens) == 9 else msg.metadata.sequence.stream


async def _replay(
    js,
    topology: Topology,
    stream_owner: str,
    start_seq: int,
    on_body: Callable[[bytes], None],
    progress: Progress | None,
    every: int = 2000,
) -> int:
    """Feed every message of a stream from start_seq to its current end to on_body; the last seq.

    An ordered push consumer (no acks, flow control) reads several times faster than pull fetches.
    """
    name = topology.stream_of_service(stream_owner)
    info = await js.stream_info(name)
    last = info.state.last_seq
    if info.state.messages == 0 or last < start_seq:
        return last
    first = max(start_seq, info.state.first_seq)
    total, done = last - first + 1, 0
    finished = asyncio.Event()

    async def receive(msg) -> None:
        nonlocal done
        seq = _stream_sequence(msg)
        if seq > last or finished.is_set():
            finished.set()
            return
        on_body(msg.data)
        done += 1
        if progress and done % every == 0:
            progress(stream_owner, done, total)
        if seq == last:
            finished.set()

    sub = await js.subscribe(
        topology.subject(f"{stream_owner}.>"),
        stream=name,
        ordered_consumer=True,
        cb=receive,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first),
        pending_msgs_limit=200_000,
        pending_bytes_limit=1024 * 1024 * 1024,
    )
    try:
        while not finished.is_set():
            before = done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), timeout=5)
            if done == before and not finished.is_set():
                break  # nothing for 5 s: the rest was deleted from the stream meanwhile (limits)
    finally:
        await sub.unsubscribe()
    if progress:
        progress(stream_owner, total, total)
    return last


async def rebuild(settings: Settings, progress: Progress | None = None) -> RebuildResult:
    with _collector_paused():
        return await _rebuild(settings, progress)


async def _rebuild(settings: Settings, progress: Progress | None) -> RebuildResult:
    started = time.perf_counter()
    url = settings.database_url("reporting")
    engine = db.create_engine(url)  # first: it creates the SQLite file's directory
    await db.migrate("reporting", url)
    sessions = db.session_factory(engine)
    topology = Topology(settings.namespace)
    nc = await nats.connect(settings.nats_servers)
    result = RebuildResult()
    try:
        js = nc.jetstream()
        sizes = {owner: (await js.stream_info(topology.stream_of_service(owner))).state.messages for owner in SUBSCRIPTIONS}
        lasts = {}
        # Each stream's events concern entity kinds no other stream touches, so a stream's rows
        # can be written (in the database's thread) while the next stream is read; largest first.
        async with sessions() as session, session.begin():
            await store.clear_all(session)
            writing: asyncio.Task | None = None
            for owner in sorted(SUBSCRIPTIONS, key=lambda o: -sizes[o]):
                projection = Projection()
                before = result.events

                def on_body(body: bytes, projection=projection) -> None:
                    result.events += 1
                    _apply(projection, body, result)

                lasts[owner] = await _replay(js, topology, owner, 1, on_body, progress)
                result.per_stream[owner] = result.events - before
                if writing:
                    result.rows += await writing
                writing = asyncio.create_task(store.insert_states(session, projection.entities))
            result.read_seconds = time.perf_counter() - started
            if writing:
                result.rows += await writing

        # events published while we were reading: merged the live way (idempotent, order-free)
        pending: list = []

        def collect(body: bytes) -> None:
            facts = _apply(Projection(), body, result)
            result.caught_up += 1
            if facts:
                pending.extend(facts)

        for owner in SUBSCRIPTIONS:
            await _replay(js, topology, owner, lasts[owner] + 1, collect, None)
        if pending:
            async with sessions() as session, session.begin():
                await store.apply_facts(session, pending)
    finally:
        await nc.close()
        await engine.dispose()
    result.seconds = time.perf_counter() - started
    REBUILD_EVENTS.labels("replayed").inc(result.events)
    return result


def rebuild_with_progress_bar(settings: Settings) -> RebuildResult:
    """`python -m services.reporting rebuild`: the rebuild with a progress bar per stream."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, int] = {}

        def show(stream: str, done: int, total: int) -> None:
            if stream not in tasks:
                tasks[stream] = bar.add_task(stream, total=total)
            bar.update(tasks[stream], completed=done)

        result = asyncio.run(rebuild(settings, show))
    console.print(
        f"rebuilt {result.rows} rows from {result.events} events in {result.seconds:.2f}s "
        f"({result.events_per_second:,.0f} events/s); skipped {result.skipped} of unknown type, "
        f"{result.malformed} malformed; {result.caught_up} caught up afterwards"
    )
    return result
