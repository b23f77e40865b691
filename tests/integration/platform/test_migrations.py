"""Every service's Alembic migrations build exactly its tables, and upgrading is repeatable."""

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from shared import db
from shared.settings import SERVICES


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_build_exactly_the_tables_of_the_code_and_upgrade_again_is_a_no_op(service, new_database_url):
    url = await new_database_url(f"migrate_{service}")
    await db.migrate(service, url)
    metadata = importlib.import_module(f"services.{service}.store").metadata
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
            assert differences == [], f"{service}: tables and migrations differ; run `girlsday migration {service} '...'`"
        async with engine.begin() as write:
            await write.execute(
                metadata.tables["inbox"].insert().values(consumer="c", event_id="e", processed_at=text("CURRENT_TIMESTAMP"))
            )
        await db.migrate(service, url)  # an existing database with data upgrades in place
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM inbox"))).scalar_one() == 1
    finally:
        await engine.dispose()
