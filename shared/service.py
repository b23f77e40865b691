"""What every service has: database, broker, outbox relay, consumers, /healthz, /metrics, logs.

A service builds a `Runtime` (its name, tables, consumers) and passes it with its routers to
`create_app`. `app.state.runtime` gives routes the session factory and the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import db, pages, problems, secrets
from shared.asyncapi import specification
from shared.broker import Consumer, DeliveryRules, Subscription, make_broker
from shared.inbox import inbox_table
from shared.metrics import CONSUMER_PENDING, HTTP_DURATION, HTTP_REQUESTS
from shared.outbox import Outbox, OutboxRelay, Transaction, outbox_table
from shared.settings import ServiceName, Settings, describe_error
from shared.topology import Topology, declare_streams

log = logging.getLogger(__name__)

Hook = Callable[["Runtime"], Awaitable[None]]
GRACEFUL_TIMEOUT_S = 15.0  # how long a stopping consumer may take to finish the batch in hand


async def run_every(interval_s: float, job: Callable[[], Awaitable[object]], name: str, *, backoff: float = 3.0) -> None:
    """Run `job` every `interval_s`, but never spend more than 1/(1+backoff) of the time on it; a
    failure is logged and the job tried again at the next turn."""
    while True:
        started = time.monotonic()
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s failed; next try in %.1f s", name, interval_s)
        await asyncio.sleep(max(interval_s, backoff * (time.monotonic() - started)))


def service_tables(metadata: MetaData) -> tuple:
    """The outbox and inbox tables every service database has."""
    return outbox_table(metadata), inbox_table(metadata)


class Worker(Protocol):
    """A background part of a service that the runtime starts and stops with it (a group commit, a
    publisher loop ...). `stop` finishes what the worker accepted before it returns."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Runtime:
    """Everything a service runs besides its routes; it owns every background task of the service:
    consumers, the outbox relay, workers (`add_worker`), periodic jobs (`every`), one-off tasks
    (`spawn`) and the consumer-lag watcher."""

    name: ServiceName
    settings: Settings
    metadata: MetaData
    consumers: Sequence[Consumer] = ()
    on_start: Sequence[Hook] = ()  # after the broker is connected, before HTTP is served
    on_stop: Sequence[Hook] = ()
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    outbox: Outbox = field(init=False)
    topology: Topology = field(init=False)
    started: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.topology = Topology.of(self.settings)
        self.database_url = self.settings.database_url(self.name)
        self.engine = db.create_engine(self.database_url)
        self.sessions = db.session_factory(self.engine)
        self.outbox = Outbox(self.name, self.metadata.tables["outbox"])
        self.outbox.watch(self.sessions)
        self.broker = make_broker(self.name, self.settings.nats_servers)
        self._rules = DeliveryRules(
            service=self.name,
            topology=self.topology,
            sessions=self.sessions,
            inbox=self.metadata.tables["inbox"],
            max_deliver=self.settings.max_deliver,
        )
        self.consumers = list(self.consumers)
        self._subscriptions = [Subscription(consumer, self._rules) for consumer in self.consumers]
        self.relay: OutboxRelay | None = None
        # (read, write) for the outbox relay's database work, if the service runs its transactions
        # its own way (see OutboxRelay); None: a session each.
        self.relay_transactions: tuple[Transaction, Transaction] | None = None
        self._workers: list[Worker] = []
        self._periodic: list[tuple[float, Callable[[], Awaitable[object]], str]] = []
        self._tasks: list[asyncio.Task] = []  # periodic jobs and spawned tasks
        self.every(self.settings.lag_interval_s, self.measure_lag, "consumer-lag")

    def every(self, interval_s: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        """Run `job` every `interval_s` while the service runs (see `run_every`): started after the
        on_start hooks, cancelled before the on_stop hooks. Call before start."""
        self._periodic.append((interval_s, job, name))

    def add_worker(self, worker: Worker) -> None:
        """Start `worker` after the on_start hooks; stop it (in reverse order) before the on_stop hooks."""
        self._workers.append(worker)

    def spawn(self, job: Awaitable[object], name: str) -> asyncio.Task:
        """Run a one-off job (e.g. a run that starts later) as a task of the service, cancelled at stop."""
        task = asyncio.create_task(_logged(job, f"{self.name} {name}"), name=f"{self.name}-{name}")
        self._tasks.append(task)
        task.add_done_callback(lambda t: t in self._tasks and self._tasks.remove(t))
        return task

    def add_consumers(self, consumers: Sequence[Consumer]) -> None:
        """Consumers whose handlers need the runtime (its outbox, settings); call before start."""
        for consumer in consumers:
            self.consumers.append(consumer)
            self._subscriptions.append(Subscription(consumer, self._rules))

    @property
    def js(self):
        return self.broker.connection.jetstream()

    async def start(self) -> None:
        secrets.check(self.settings, self.name)  # before anything: no production start on default secrets
        await db.migrate(self.name, self.database_url)
        await self.broker.connect()
        if self.settings.declare_streams:
            await declare_streams(self.js, self.topology)
        await self.broker.start()
        read, write = self.relay_transactions or (None, None)
        self.relay = OutboxRelay(
            self.outbox,
            self.sessions,
            self.broker.connection,
            self.topology,
            skip_locked=not db.is_sqlite(self.database_url),
            read=read,
            write=write,
        )
        self.relay.start()
        for subscription in self._subscriptions:
            await subscription.start(self.broker.connection)
        for hook in self.on_start:
            await hook(self)
        for worker in self._workers:
            await worker.start()
        self._tasks.extend(
            asyncio.create_task(run_every(interval_s, job, f"{self.name} {name}"), name=f"{self.name}-{name}")
            for interval_s, job, name in self._periodic
        )
        self.started = True

    async def stop(self) -> None:
        """Stop in order, each step bounded, so shutdown always ends: nothing is lost by a cut-short
        step (unacked messages are redelivered, unpublished events stay in the outbox)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await _bounded(asyncio.gather(*tasks, return_exceptions=True), 10, "periodic jobs and tasks")
        for worker in reversed(self._workers):
            await _bounded(worker.stop(), 10, f"worker {type(worker).__name__}")
        for hook in self.on_stop:
            await _bounded(hook(self), 10, "on_stop hook")
        # in-flight batches finish (within the graceful timeout), then the loops end
        await _bounded(
            asyncio.gather(*(s.stop(timeout=GRACEFUL_TIMEOUT_S) for s in self._subscriptions)), GRACEFUL_TIMEOUT_S + 5, "consumers"
        )
        if self.relay:
            await _bounded(self.relay.stop(), 8, "outbox relay")  # publishes what is left while NATS is connected
        await _bounded(self.broker.stop(), 8, "broker")
        await _bounded(self.engine.dispose(), 4, "database pool")
        self.started = False

    async def health(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(db.ping(self.engine), 2)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc!r}"[:200]
        connection = self.broker.connection if self.started else None
        checks["nats"] = "ok" if connection is not None and connection.is_connected else "unreachable"
        return checks

    async def measure_lag(self) -> dict[str, int]:
        """Messages each durable consumer of this service has not yet processed (pending or unacked),
        also set as `girlsday_consumer_pending`; the one lag watcher of the platform."""
        lags: dict[str, int] = {}
        for consumer in self.consumers:
            for stream in consumer.streams:
                durable = consumer.durable(self.name, stream)
                with contextlib.suppress(Exception):  # not created yet, or NATS away: next turn
                    info = await self.js.consumer_info(self.topology.stream_of_service(stream), durable)
                    lags[durable] = info.num_pending + info.num_ack_pending
                    CONSUMER_PENDING.labels(self.name, durable).set(lags[durable])
        return lags


async def _logged(job: Awaitable[object], name: str) -> None:
    try:
        await job
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("task %s failed", name)


class HttpMetrics:
    """Request count and duration per route template, as plain ASGI middleware (Starlette's
    BaseHTTPMiddleware costs a task and a stream per request)."""

    def __init__(self, app, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_remember(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_remember)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_DURATION.labels(self.service, method, path).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(self.service, method, path, str(status)).inc()


async def _bounded(step: Awaitable, seconds: float, what: str) -> None:
    try:
        await asyncio.wait_for(step, seconds)
    except TimeoutError:
        log.warning("shutdown: %s did not stop within %.0f s; going on", what, seconds)


def create_app(runtime: Runtime, routers: Sequence[APIRouter] = (), *, title: str, description: str = "") -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    # /docs and /redoc with Swagger UI and ReDoc served by the service itself (fastapi-offline ships
    # them): the pages work without any CDN, on a closed network too.
    app = FastAPIOffline(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    problems.install(app)  # every error answer as RFC 9457 problem details

    app.add_middleware(HttpMetrics, service=runtime.name)

    @app.get("/healthz", tags=["operations"], summary="Readiness: database and NATS reachable")
    async def healthz() -> JSONResponse:
        checks = await runtime.health()
        ok = all(value == "ok" for value in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "service": runtime.name, "checks": checks}, 200 if ok else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(REGISTRY).decode(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", tags=["operations"], summary="AsyncAPI 3.0 document of this service's events")
    async def asyncapi() -> JSONResponse:
        return JSONResponse(specification(runtime))

    pages.install(app, runtime.name)  # /assets (the shared stylesheet) and the staff-session answers
    for router in routers:
        app.include_router(router)
    return app


# How long an idle keep-alive connection stays open. It must outlast the idle timeout of every
# client and proxy in front of the service (httpx: 5 s, nginx upstream keepalive: 60 s, cloud load
# balancers: 60 s): if the server closes first, a request the client sends at that moment on the
# "idle" connection meets a closing socket and the client gets a connection reset (httpx.ReadError),
# a lost request. uvicorn's default is 5 s, exactly httpx's: under load that race is hit.
KEEP_ALIVE_S = 75


def server_config(app, host: str, port: int):
    """uvicorn's configuration of every service (`serve`, and the tests that check it)."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_config=None, timeout_graceful_shutdown=20, timeout_keep_alive=KEEP_ALIVE_S)


def serve(name: ServiceName, build_app: Callable[[Settings], FastAPI], *, switch_interval: float = 0.0005) -> None:
    """`python -m services.<name>`: settings from the environment, JSON logs, uvicorn.

    A configuration error or a port in use stops start-up with one clear line, not a traceback.
    `switch_interval`: see below; a service that hands work to its database thread rarely (in
    batches) does better with Python's default.
    """
    import socket
    import sys

    import uvicorn
    from pydantic import ValidationError

    from shared.logs import configure_logging

    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(f"girlsday-{name}: configuration error: {describe_error(exc)}")
    if settings.environment != "development":  # one clear line, not a failed lifespan (development warns at start)
        try:
            secrets.check(settings, name)
        except secrets.InsecureSettings as exc:
            sys.exit(f"girlsday-{name}: {exc}")
    port = settings.port(name)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, port))
        except OSError as exc:
            sys.exit(f"girlsday-{name}: cannot listen on {settings.host}:{port} ({exc.strerror}); set GIRLSDAY_{name.upper()}_PORT")
    configure_logging(name, settings.log_level)
    # aiosqlite runs each SQLite call on its own thread: every round trip hands the GIL over twice,
    # and with Python's default 5 ms switch interval a busy event loop makes each hand-over wait.
    sys.setswitchinterval(switch_interval)
    app = build_app(settings)
    config = server_config(app, settings.host, port)
    try:
        uvicorn.Server(config).run()
    except Exception as exc:  # e.g. NATS unreachable at start-up
        sys.exit(f"girlsday-{name}: start-up failed: {exc!r}")
