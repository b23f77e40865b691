"""Opening a survey by its token and recording a response: every rule, in one place.

Resubmission policy: one response per token (a token belongs to one pupil and one phase). A second
submission is refused (409) and the first answer stands; this keeps what was measured stable and
needs no "edit" state in the pupil pages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contracts import ResponseRecorded
from shared.outbox import Outbox

from . import catalogue, store
from .domain.questionnaire import Questionnaire, parse_questionnaire, validate_answers
from .domain.rules import Window, WindowPolicy, may_store_response

_parsed: dict[str, Questionnaire] = {}


class SurveyRefused(Exception):
    """The survey cannot be shown or answered; `status` is the HTTP status, `code` the reason."""

    def __init__(self, status: int, code: str, window: Window | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.window = status, code, window


@dataclass(frozen=True)
class OpenSurvey:
    token: str
    phase: str
    programme_id: str
    questionnaire: Questionnaire
    window: Window


def _parse_cached(definition: dict, programme_id: str) -> Questionnaire:
    key = f"{programme_id}:{definition.get('phase')}:{definition.get('version')}"
    if key not in _parsed:
        _parsed[key] = parse_questionnaire(definition)
    return _parsed[key]


async def questionnaire_for(session: AsyncSession, programme_id: str, kind: str | None, phase: str) -> Questionnaire:
    """The programme's newest admin-defined questionnaire, else the shipped one of its kind."""
    definition = await store.latest_questionnaire(session, programme_id, phase)
    if definition is not None:
        return _parse_cached(definition, programme_id)
    return catalogue.default_for(kind or "girls_day", phase)


def window_of(row: Any, policy: WindowPolicy) -> Window:
    placed = store.aware(row.placed_at)
    event_date = store.as_date(row.event_date)
    if event_date is None:  # programme not (yet) known: pre open from placement, post not open
        far = datetime.max.replace(tzinfo=placed.tzinfo)
        return Window(placed, far) if row.phase == "pre" else Window(far, far)
    if row.phase == "pre":
        return policy.pre(placed, event_date, store.aware(row.pre_closes))
    return policy.post(event_date, store.aware(row.post_closes))


async def _open(session: AsyncSession, token: str, policy: WindowPolicy, now: datetime) -> tuple[Any, OpenSurvey]:
    row = await store.invitation_for_response(session, token) if 16 <= len(token) <= 64 else None
    if row is None:
        raise SurveyRefused(404, "unknown_token")
    window = window_of(row, policy)
    if row.response_id is not None:
        raise SurveyRefused(409, "already_responded", window)
    state = window.state(now)
    if state == "not_open":
        raise SurveyRefused(409, "phase_not_open", window)
    if state == "closed":
        raise SurveyRefused(410, "phase_closed", window)
    if not may_store_response(row.age, bool(row.parental_consent)):
        raise SurveyRefused(403, "consent_required", window)
    questionnaire = await questionnaire_for(session, row.programme_id, row.kind, row.phase)
    return row, OpenSurvey(token, row.phase, row.programme_id, questionnaire, window)


async def open_survey(sessions: async_sessionmaker, token: str, policy: WindowPolicy, now: datetime) -> OpenSurvey:
    async with sessions() as session:
        return (await _open(session, token, policy, now))[1]


async def submit(sessions: async_sessionmaker, outbox: Outbox, token: str, answers: Any,
                 policy: WindowPolicy, now: datetime) -> str:
    """Store one response and its event in one transaction; raise SurveyRefused or InvalidAnswers."""
    try:
        async with sessions() as session, session.begin():
            row, survey = await _open(session, token, policy, now)
            cleaned = validate_answers(survey.questionnaire, answers)
            response_id = str(uuid.uuid4())
            await session.execute(insert(store.responses).values(
                response_id=response_id, token=token, pupil_ref=row.pupil_ref, phase=row.phase,
                programme_id=row.programme_id, school_id=row.school_id, group_id=row.group_id,
                activity_id=row.activity_id, questionnaire=survey.questionnaire.ref, answers=cleaned,
                recorded_at=now))
            await outbox.add(session, ResponseRecorded(
                response_id=response_id, programme_id=row.programme_id, phase=row.phase,
                school_id=row.school_id, group_id=row.group_id, activity_id=row.activity_id))
            return response_id
    except IntegrityError:  # the same token submitted twice at the same moment
        raise SurveyRefused(409, "already_responded") from None
