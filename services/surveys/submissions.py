"""Opening a survey by its token and recording a response: every rule, in one place.

Resubmission policy: one response per token (a token belongs to one pupil and one phase). A second
submission is refused (409) and the first answer stands; this keeps what was measured stable and
needs no "edit" state in the pupil pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from . import catalogue, store
from .domain.questionnaire import Questionnaire, parse_questionnaire, validate_answers
from .domain.rules import Window, WindowPolicy, may_store_response
from .errors import SurveyRefused
from .writer import Decide, ResponseWriter

_parsed: dict[str, Questionnaire] = {}
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class OpenSurvey:
    token: str
    phase: str
    programme_id: str
    questionnaire: Questionnaire
    window: Window


async def questionnaire_for(
    session: AsyncSession | AsyncConnection, programme_id: str, kind: str | None, phase: str, version: int | None = -1
) -> Questionnaire:
    """The programme's newest admin-defined questionnaire, else the shipped one of its kind.

    `version` is the newest admin-defined version when the caller already knows it (None: there is
    none); parsed definitions are cached, as a published version never changes.
    """
    if version == -1:
        version = await store.latest_questionnaire_version(session, programme_id, phase) or None
    if version is None:
        return catalogue.default_for(kind or "girls_day", phase)
    url = session.bind.url if isinstance(session, AsyncSession) else session.engine.url
    key = f"{url}|{programme_id}|{phase}|{version}"
    if key not in _parsed:
        definition = await store.questionnaire_definition(session, programme_id, phase, version)
        _parsed[key] = parse_questionnaire(definition)
    return _parsed[key]


def window_of(row: Any, policy: WindowPolicy) -> Window:
    placed = store.aware(row.placed_at)
    event_date = store.as_date(row.event_date)
    if event_date is None:  # programme not (yet) known: pre open from placement, post not open
        far = datetime.max.replace(tzinfo=placed.tzinfo)
        return Window(placed, far) if row.phase == "pre" else Window(far, far)
    if row.phase == "pre":
        return policy.pre(placed, event_date, store.aware(row.pre_closes))
    return policy.post(event_date, store.aware(row.post_closes))


async def check(session: AsyncSession | AsyncConnection, row: Any, token: str, policy: WindowPolicy, now: datetime) -> OpenSurvey:
    """Every rule before a survey may be shown or answered; raise SurveyRefused if one fails."""
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
    questionnaire = await questionnaire_for(session, row.programme_id, row.kind, row.phase, row.questionnaire_version)
    return OpenSurvey(token, row.phase, row.programme_id, questionnaire, window)


def well_formed(token: str) -> bool:
    return TOKEN_SHAPE.fullmatch(token) is not None


async def open_survey(engine: AsyncEngine, token: str, policy: WindowPolicy, now: datetime) -> OpenSurvey:
    if not well_formed(token):
        raise SurveyRefused(404, "unknown_token")
    async with engine.connect() as connection:  # a plain connection: cheaper than a session for one read
        row = await store.invitation_for_response(connection, token)
        return await check(connection, row, token, policy, now)


def decider(policy: WindowPolicy) -> Decide:
    """The writer's per-response decision: the rules, then the answers against the questionnaire."""

    async def decide(session: AsyncSession, row: Any, token: str, answers: Any, now: datetime) -> tuple[dict, str]:
        survey = await check(session, row, token, policy, now)
        return validate_answers(survey.questionnaire, answers), survey.questionnaire.ref

    return decide


async def submit(writer: ResponseWriter, token: str, answers: Any, now: datetime) -> str:
    """Check and store one response with its event (group-committed); raise SurveyRefused or InvalidAnswers."""
    if not well_formed(token):
        raise SurveyRefused(404, "unknown_token")
    return await writer.write(token, answers, now)
