"""How every benchmark chooses its database: one flag, both databases, named in the JSON line.

    --database-url postgresql://user@host:5432/db   (or BENCH_DATABASE_URL)

Without it a benchmark runs on SQLite files in its temporary directory. With it, the URL names a
PostgreSQL server (the database in it is only used to connect): the benchmark creates a fresh
database per service it runs, and drops them when it ends, so a run never sees another's rows.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="PostgreSQL server to run on (fresh databases are created and dropped); default: SQLite in a temporary directory",
    )


def kind(server_url: str | None) -> str:
    """The database a run used, as its JSON line names it."""
    return "sqlite" if not server_url else make_url(server_url).get_backend_name()


@contextlib.asynccontextmanager
async def fresh_databases(server_url: str | None, services: Sequence[str], tmp: Path) -> AsyncIterator[dict[str, str]]:
    """{service: SQLAlchemy URL} of an empty database per service, for the duration of the block."""
    if not server_url:
        yield {service: f"sqlite+aiosqlite:///{tmp / f'{service}-{uuid.uuid4().hex[:6]}.db'}" for service in services}
        return
    import asyncpg

    admin = make_url(server_url).set(drivername="postgresql")
    names = {service: f"bench_{service}_{uuid.uuid4().hex[:8]}" for service in services}
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=5)
    try:
        for name in names.values():
            await conn.execute(f'CREATE DATABASE "{name}"')
        yield {
            service: admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
            for service, name in names.items()
        }
    finally:
        for name in names.values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
