"""Database access: SQLAlchemy 2 async engines and Alembic migrations per service.

SQLite (the embedded default) runs in WAL mode with synchronous=NORMAL, a busy timeout and
secure_delete (deleted content is overwritten, so an erasure reaches the file);
PostgreSQL is used by URL (postgresql+asyncpg://...).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def insert(table: Table, on: str | AsyncSession | Connection):
    """`INSERT` with `on_conflict_do_nothing` / `on_conflict_do_update` for the database at hand
    (`on`: a session, a connection or a dialect name): the platform's one dialect switch for upserts."""
    name = on if isinstance(on, str) else on.bind.dialect.name if isinstance(on, AsyncSession) else on.dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(table)


def upsert(table: Table, on: str | AsyncSession | Connection, values: dict[str, Any], keys: list[str]):
    """Insert `values`, or on a conflict of `keys` update the other columns (nothing if none)."""
    statement = insert(table, on).values(**values)
    changes = {k: v for k, v in values.items() if k not in keys}
    return (
        statement.on_conflict_do_update(index_elements=keys, set_=changes)
        if changes
        else statement.on_conflict_do_nothing(index_elements=keys)
    )


def create_engine(url: str, **kwargs) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite has one writer anyway, and queueing in the pool is far cheaper
        # than SQLite's busy-sleep. Never open a second session while holding one.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off), so
        # that BEGIN IMMEDIATE below takes the write lock up front instead of failing late.
        event.listen(engine.sync_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # erased rows are zeroed in the file, not just unlinked
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # A Session class of its own per factory, so session events (the outbox's after_commit)
    # concern this service's sessions only, even with several services in one process.
    session_class = type("ServiceSession", (Session,), {})
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)


def alembic_config(service: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


_alembic_lock = threading.Lock()  # Alembic's `context` is process-global: one migration at a time


def migrate_sync(service: str, url: str) -> None:
    with _alembic_lock:
        command.upgrade(alembic_config(service, url), "head")


async def migrate(service: str, url: str) -> None:
    """Upgrade the service's database to the newest schema (runs Alembic in a worker thread)."""
    await asyncio.to_thread(migrate_sync, service, url)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def new_migration(service: str, message: str) -> None:
    """Autogenerate the next migration of a service from its tables (`girlsday migration`)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/schema.db"
        migrate_sync(service, url)
        command.revision(alembic_config(service, url), message=message, autogenerate=True)
