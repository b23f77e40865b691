"""Event subscribers of the matching service: every subscription, in one place."""

from sqlalchemy.ext.asyncio import AsyncSession

from shared.broker import Consumer
from shared.contracts import ProgrammeOpened
from shared.envelope import CloudEvent


async def on_programme_opened(event: CloudEvent, data: ProgrammeOpened, session: AsyncSession) -> None:
    """Walking skeleton: the read model is built in the matching issue."""


readmodel = Consumer(purpose="readmodel", streams=("registration",), handlers={ProgrammeOpened: on_programme_opened})
