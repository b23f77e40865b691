"""The reporting store on a real database: facts merged in a transaction are written at its commit."""

import asyncio
from datetime import UTC, datetime

import pytest

from services.reporting import store
from services.reporting.domain.projection import Fact, make_version
from shared import db

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def fact(key: str, revision: int, event_id: str, **fields) -> Fact:
    return Fact("group", key, fields, make_version(revision, T0, event_id))


@pytest.fixture
async def sessions(new_database_url):
    url = await new_database_url("reporting")
    engine = db.create_engine(url)
    await db.migrate("reporting", url)
    yield db.session_factory(engine)
    await engine.dispose()


async def _groups(sessions) -> dict:
    async with sessions() as session:
        return {key: state.fields for (kind, key), state in (await store.load_states(session)).items() if kind == "group"}


async def test_facts_of_one_transaction_build_on_each_other_and_are_written_at_its_commit(sessions):
    async with sessions() as session, session.begin():
        await store.apply_facts(session, [fact("g1", 1, "e1", pupil_count=20, status="active")])
        assert await store.apply_facts(session, [fact("g1", 2, "e2", pupil_count=24)])
        assert not await store.apply_facts(session, [fact("g1", 1, "e3", pupil_count=10)])  # older
        await store.apply_facts(session, [fact("g2", 1, "e4", pupil_count=12)])
    assert await _groups(sessions) == {"g1": {"pupil_count": 24, "status": "active"}, "g2": {"pupil_count": 12}}

    async with sessions() as session, session.begin():  # an existing row is updated
        await store.apply_facts(session, [fact("g1", 3, "e5", status="withdrawn")])
    assert (await _groups(sessions))["g1"] == {"pupil_count": 24, "status": "withdrawn"}


async def test_a_rolled_back_transaction_writes_nothing_and_leaves_nothing_behind(sessions):
    async with sessions() as session:
        with pytest.raises(RuntimeError):
            async with session.begin():
                await store.apply_facts(session, [fact("g1", 1, "e1", pupil_count=20)])
                raise RuntimeError("a handler failed")
        async with session.begin():  # the same session, a new transaction: nothing carried over
            await store.apply_facts(session, [fact("g2", 1, "e2", pupil_count=12)])
    assert await _groups(sessions) == {"g2": {"pupil_count": 12}}


async def test_two_transactions_creating_one_entity_at_once_merge_into_one_row(sessions):
    async with sessions() as probe:
        if probe.bind.dialect.name == "sqlite":
            pytest.skip("SQLite runs one write transaction at a time (BEGIN IMMEDIATE)")

    async def second() -> None:
        async with sessions() as session, session.begin():
            await store.apply_facts(session, [fact("g1", 2, "e2", pupil_count=24)])

    async with sessions() as session, session.begin():
        await store.apply_facts(session, [fact("g1", 1, "e1", pupil_count=20, status="active")])
        concurrent = asyncio.create_task(second())  # sees no committed row: creates it too
        await asyncio.sleep(0.3)
    await asyncio.wait_for(concurrent, timeout=10)  # its insert found this row: merged into it
    assert await _groups(sessions) == {"g1": {"pupil_count": 24, "status": "active"}}
