"""The one hot route, `POST /api/v1/surveys/{token}/response`, answered without FastAPI's machinery.

Under load (a class of pupils answering at once) this route is nearly all the service does, and
FastAPI's per-request work (routing, dependency solving, body and response models, exit stacks)
cost more CPU than checking and storing the response. This ASGI middleware answers a request it
fully understands — a well-formed token, a JSON body `{"answers": {item: int | str | null}}` — by
calling the same `submit` and answering with the same status codes and bodies as the FastAPI route
(`api.post_response`). Anything else (another route, another content type, a body pydantic might
coerce differently, such as a float, a boolean or a nested value) goes on to FastAPI unchanged, so
the documented API, its validation errors and the OpenAPI document stay FastAPI's.

It sits inside the shared HTTP metrics middleware and sets `scope["route"]`, so the route keeps
its request count and duration under its template.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from shared.asgi import is_json, read_body, replay

from .context import SurveysContext
from .domain.questionnaire import InvalidAnswers
from .errors import SurveyRefused
from .submissions import submit

PATH = re.compile(r"/api/v1/surveys/([A-Za-z0-9_-]{16,64})/response")
ROUTE = "/api/v1/surveys/{token}/response"
_JSON_HEADERS = [(b"content-type", b"application/json")]


def answers_of(body: bytes) -> dict[str, int | str | None] | None:
    """The answers if the body is exactly what the FastAPI route would accept unchanged, else None."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    answers = data.get("answers") if type(data) is dict else None
    if type(answers) is not dict:
        return None
    for value in answers.values():
        if value is not None and type(value) is not int and type(value) is not str:
            return None
    return answers


def _json_content_type(headers: list[tuple[bytes, bytes]]) -> bool:
    return is_json(next((value for name, value in headers if name == b"content-type"), None))


class FastResponseRoute:
    def __init__(self, app, ctx: SurveysContext, route: Any) -> None:
        self.app = app
        self.ctx = ctx
        self.route = route  # the FastAPI route, for the metrics label

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or (match := PATH.fullmatch(scope["path"])) is None
            or not _json_content_type(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        messages, content = await read_body(receive)
        answers = answers_of(content) if content is not None else None  # None: the client went away
        if answers is None:
            await self.app(scope, replay(messages, receive), send)
            return
        scope["route"] = self.route
        status, body = await respond(self.ctx, match.group(1), answers)
        payload = orjson.dumps(body)
        await send(
            {"type": "http.response.start", "status": status, "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]}
        )
        await send({"type": "http.response.body", "body": payload})


async def respond(ctx: SurveysContext, token: str, answers: dict) -> tuple[int, dict]:
    """Status and JSON body of a response submission (shared with the FastAPI route)."""
    try:
        response_id = await submit(ctx.writer, token, answers, ctx.clock())
    except SurveyRefused as exc:
        return exc.status, refusal_body(exc)
    except InvalidAnswers as exc:
        return 422, {
            "code": "invalid_answers",
            "detail": "some answers are missing or out of range",
            "problems": [{"item": p.item, "code": p.code} for p in exc.problems],
        }
    return 201, {"response_id": response_id}


REFUSALS = {
    "unknown_token": "no survey has this token",
    "already_responded": "this token has already been used; the first response stands",
    "phase_not_open": "this phase is not open yet",
    "phase_closed": "this phase has closed",
    "consent_required": "a pupil under 16 needs recorded parental consent; nothing was stored",
}


def refusal_body(exc: SurveyRefused) -> dict[str, Any]:
    body: dict[str, Any] = {"code": exc.code, "detail": REFUSALS[exc.code]}
    if exc.window is not None and exc.code in ("phase_not_open", "phase_closed"):
        body["opens"], body["closes"] = exc.window.opens.isoformat(), exc.window.closes.isoformat()
    return body
