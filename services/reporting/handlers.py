"""Event subscribers of the reporting service: every subscription, in one place."""

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.store import schools
from shared.broker import Consumer
from shared.contracts import SchoolRegistered
from shared.envelope import CloudEvent


def _insert(session: AsyncSession):
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


async def on_school_registered(event: CloudEvent, data: SchoolRegistered, session: AsyncSession) -> None:
    statement = _insert(session)(schools).values(school_id=data.school_id, level=data.level, registered_at=data.registered_at)
    await session.execute(statement.on_conflict_do_nothing(index_elements=["school_id"]))


projections = Consumer(
    purpose="projections",
    streams=("registration",),
    handlers={SchoolRegistered: on_school_registered},
)
