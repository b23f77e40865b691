"""An erasure wins in matching too: a group event published before it but handled after it does
not bring the erased pupil back into the read model (so she takes no place)."""

from sqlalchemy import select

from services.matching.app import build_app
from services.matching.store import entities
from shared import contracts as c
from tests.conftest import running
from tests.helpers import eventually

from .test_event_flow import send
from .test_individual_pupils import UTRECHT, P, registrations, run_when_read


async def test_a_group_event_handled_after_the_erasure_leaves_the_erased_pupil_out(settings, js, topology):
    app = build_app(settings)
    runtime = app.state.runtime
    async with running(app) as client:
        before = [e for e in registrations() if not isinstance(e, c.GroupRegistered)]
        for data in before:
            await send(js, topology, data)
        # the erasure of Utrecht's pupil is handled first; her group's registration (naming her) comes after
        await send(js, topology, c.PupilErased(pupil_ref="2b-01", group_id=UTRECHT, programme_id=P))
        group = next(e for e in registrations() if isinstance(e, c.GroupRegistered) and e.group_id == UTRECHT)
        late = group.model_copy(update={"pupils": [*group.pupils, c.PupilRef(pupil_ref="2b-09", age=13, parental_consent=True)]})
        await send(js, topology, late)

        async def stored():
            async with runtime.sessions() as session:
                row = (await session.execute(select(entities.c.data).where(entities.c.kind == "group", entities.c.id == UTRECHT))).first()
            return row.data["pupils"] if row else None

        assert [p["pupil_ref"] for p in await eventually(stored)] == ["2b-09"]
        run = await run_when_read(client, P, 1)
        assert run["quality"]["placed_pupils"] + run["quality"]["unplaced_pupils"] == 1
