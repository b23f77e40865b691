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
from shared.problems import Problem

from .context import SurveysContext
from .domain.questionnaire import InvalidAnswers
from .errors import SurveyRefused, invalid_answers, refusal
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
        answer = await respond(self.ctx, match.group(1), answers)
        if isinstance(answer, Problem):
            await answer.send(scope, send)
            return
        payload = orjson.dumps(answer)
        await send(
            {"type": "http.response.start", "status": 201, "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]}
        )
        await send({"type": "http.response.body", "body": payload})


async def respond(ctx: SurveysContext, token: str, answers: dict) -> dict | Problem:
    """The answer to a response submission (shared with the FastAPI route): its id, or the problem."""
    try:
        response_id = await submit(ctx.writer, token, answers, ctx.clock())
    except SurveyRefused as exc:
        return refusal(exc)
    except InvalidAnswers as exc:
        return invalid_answers(exc)
    return {"response_id": response_id}
