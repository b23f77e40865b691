"""Pupil codes are the school's, unique within a group only: the pairing key is group and code."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import create_async_engine

from services.surveys import store
from services.surveys.domain.questionnaire import Item
from services.surveys.domain.results import Response, paired_results


async def test_two_groups_pupils_with_the_same_code_are_two_pupils_in_the_programme_rows(tmp_path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(store.metadata.create_all)
        now = datetime.now(UTC)
        await connection.execute(
            store.responses.insert(),
            [
                {
                    "response_id": f"r-{group}-{phase}",
                    "token": f"t-{group}-{phase}",
                    "pupil_ref": "2b-01",
                    "phase": phase,
                    "programme_id": "p",
                    "school_id": school,
                    "group_id": group,
                    "activity_id": "a",
                    "questionnaire": "q",
                    "answers": {},
                    "recorded_at": now,
                }
                for group, school in (("g-1", "12AB"), ("g-2", "34CD"))
                for phase in ("pre", "post")
            ],
        )
    async with engine.connect() as connection:
        _, responses = await store.programme_rows(connection, "p")
    await engine.dispose()
    assert sorted({r.pupil for r in responses}) == ["g-1/2b-01", "g-2/2b-01"]


def test_pre_and_post_answers_pair_only_for_the_same_pupil_not_for_the_same_code():
    item = Item(id="interest_tech", kind="likert", text={"nl": "Techniek", "en": "Tech"})
    codes = [f"2b-{i:02d}" for i in range(10)]
    pre = [Response(f"g-1/{code}", "pre", "12AB", "a", {"interest_tech": 2}) for code in codes]
    same_pupils = pre + [Response(f"g-1/{code}", "post", "12AB", "a", {"interest_tech": 4}) for code in codes]
    other_school = pre + [Response(f"g-2/{code}", "post", "34CD", "a", {"interest_tech": 4}) for code in codes]
    assert paired_results([item], same_pupils)["n_pairs"] == 10
    assert paired_results([item], other_school)["n_pairs"] is None  # no pairs: other children, same codes
