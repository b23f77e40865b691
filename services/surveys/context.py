"""What the surveys routes and jobs share: database, outbox, policies, clock, teacher keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from shared.service import Runtime

from .config import SurveysConfig
from .domain.rules import ReminderPolicy, WindowPolicy
from .links import TeacherKeys
from .writer import ResponseWriter


@dataclass
class SurveysContext:
    runtime: Runtime
    config: SurveysConfig
    windows: WindowPolicy
    reminders: ReminderPolicy
    keys: TeacherKeys
    clock: Callable[[], datetime]
    public_url: str
    writer: ResponseWriter

    @property
    def sessions(self):
        return self.runtime.sessions

    @property
    def outbox(self):
        return self.runtime.outbox

    def survey_url(self, token: str) -> str:
        return f"{self.public_url}/s/{token}"

    def teacher_url(self, programme_id: str, school_id: str) -> str:
        return f"{self.public_url}/leraar/{programme_id}/{school_id}?key={self.keys.key(programme_id, school_id)}"


async def surveys(request: Request) -> SurveysContext:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a thread hop per request
    return request.app.state.surveys
