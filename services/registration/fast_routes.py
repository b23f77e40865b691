"""The opening day's hot routes, answered without FastAPI's per-request machinery.

On the day a programme opens, nearly every request is one of six: a school or company registers,
a school adds a group, a company adds an activity, a school reads its groups, anyone reads the
activities on offer. For these FastAPI's routing (every route tried in turn), dependency solving
(bearer, principal, header parameters), body and response models cost more CPU than validating
and storing the registration. This pure ASGI middleware answers such a request when it fully
understands it — a JSON body its pydantic model accepts as it is, credentials that resolve — by
calling the same actions the FastAPI routes call (`api.school_registration`, ...) through the same
`idempotency.run_once` and `tx.read`, and answering errors of the service layer with the same
problem details (`errors.problem`). Anything else (another route or method, another content type, a body the model
refuses, missing or unknown credentials, an Idempotency-Key FastAPI would refuse) goes on to
FastAPI unchanged, so the documented API, its validation errors and the OpenAPI document stay
FastAPI's. `tests/integration/registration/test_fast_routes.py` checks both give the same answers.

It sits inside the HTTP metrics and body-size middlewares and sets `scope["route"]`, so the route
keeps its request count and duration under its template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

from pydantic import BaseModel, ValidationError

from services.registration import api
from services.registration import schemas as s
from services.registration.auth import ANONYMOUS, Principal, resolve
from services.registration.errors import problem
from services.registration.idempotency import run_once
from services.registration.tx import read
from shared.asgi import is_json, read_body, replay


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    template: str
    body: type[BaseModel] | None  # the JSON body's model (writes)
    auth: str  # "required" | "optional"
    action: object  # (runtime, principal, path parameter, body) -> the function of a connection


# Path parameters are ids (UUIDs): anything else, e.g. characters a URL would escape, goes to FastAPI.
ROUTES = [
    Route(
        "POST",
        re.compile(r"/api/schools"),
        "/api/schools",
        s.SchoolIn,
        "optional",
        lambda runtime, who, _, body: api.school_registration(runtime, body),
    ),
    Route(
        "POST",
        re.compile(r"/api/companies"),
        "/api/companies",
        s.CompanyIn,
        "optional",
        lambda runtime, who, _, body: api.company_registration(runtime, body),
    ),
    Route(
        "POST",
        re.compile(r"/api/schools/([0-9A-Za-z_-]+)/groups"),
        "/api/schools/{school_id}/groups",
        s.GroupIn,
        "required",
        lambda runtime, who, school_id, body: api.group_registration(runtime, who, school_id, body),
    ),
    Route(
        "POST",
        re.compile(r"/api/companies/([0-9A-Za-z_-]+)/activities"),
        "/api/companies/{company_id}/activities",
        s.ActivityIn,
        "required",
        lambda runtime, who, company_id, body: api.activity_registration(runtime, who, company_id, body),
    ),
    Route(
        "GET",
        re.compile(r"/api/schools/([0-9A-Za-z_-]+)/groups"),
        "/api/schools/{school_id}/groups",
        None,
        "required",
        lambda runtime, who, school_id, _: api.groups_listing(who, school_id),
    ),
    Route(
        "GET",
        re.compile(r"/api/programmes/([0-9A-Za-z_-]+)/activities"),
        "/api/programmes/{programme_id}/activities",
        None,
        "none",
        lambda runtime, who, programme_id, _: api.offer_listing(programme_id),
    ),
]
_LABELS = {route.template: SimpleNamespace(path=route.template) for route in ROUTES}  # what HttpMetrics reads


def _match(method: str, path: str) -> tuple[Route, str | None] | None:
    for route in ROUTES:
        if route.method == method and (m := route.pattern.fullmatch(path)):
            return route, (m.group(1) if m.groups() else None)
    return None


def _headers(scope) -> dict[bytes, bytes] | None:
    """The request's headers, or None if one we read is repeated (FastAPI would decide which counts)."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in headers and name in (b"authorization", b"content-type", b"idempotency-key"):
            return None
        headers[name] = value
    return headers


def _token(headers: dict[bytes, bytes]) -> str | None | bool:
    """The bearer token; None without an Authorization header; False if FastAPI must judge it."""
    value = headers.get(b"authorization")
    if value is None:
        return None
    scheme, _, token = value.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        return False
    return token


class FastRoutes:
    def __init__(self, app, runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or (found := _match(scope["method"], scope["path"])) is None or (headers := _headers(scope)) is None:
            return await self.app(scope, receive, send)
        route, parameter = found
        token = _token(headers)
        if token is False or (token is None and route.auth == "required"):
            return await self.app(scope, receive, send)
        body = None
        if route.body is not None:
            if not is_json(headers.get(b"content-type")):
                return await self.app(scope, receive, send)
            messages, content = await read_body(receive)
            if content is None:
                return await self.app(scope, replay(messages, receive), send)
            try:
                body = route.body.model_validate_json(content)
            except ValidationError:
                return await self.app(scope, replay(messages, receive), send)
            key = headers.get(b"idempotency-key")  # idempotency.HEADER, as ASGI spells header names
            if key is not None and not 1 <= len(key := key.decode("latin-1")) <= 200:
                return await self.app(scope, replay(messages, receive), send)
        who = await self._principal(token, route) if route.auth != "none" else ANONYMOUS
        if who is None:
            return await self.app(scope, replay(messages, receive) if route.body else receive, send)
        scope["route"] = _LABELS[route.template]
        action = route.action(self.runtime, who, parameter, body)
        try:
            if route.body is not None:
                response = await run_once(self.runtime, "POST", scope["path"], content, key, who.key(), action)
            else:
                response = await read(self.runtime, action)
        except Exception as e:  # noqa: BLE001 - one of ours gets its answer; anything else propagates as before
            if (found := problem(e)) is None:
                raise
            response = found.response(scope["path"])
        await response(scope, receive, send)

    async def _principal(self, token: str | None, route: Route) -> Principal | None:
        if token is None:
            return ANONYMOUS
        principal = await resolve(self.runtime, token)
        if principal is None and route.auth == "optional":
            return ANONYMOUS
        return principal
