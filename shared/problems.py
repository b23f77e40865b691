"""The one error format of every service's HTTP API: RFC 9457 problem details.

Every error answer is `application/problem+json`:

    {"type": "tag:vhto.nl,2026:girlsday/problems/duplicate_school", "title": "Duplicate school",
     "status": 409, "detail": "a school with BRIN 12AB is already registered",
     "instance": "/api/schools", "existing": {...}}

- `type` names the kind of problem and is what a client switches on (`code(body)` gives its last
  part, e.g. `duplicate_school`); plain HTTP errors with nothing more to say (an unknown route, a
  wrong method) are `about:blank` with the HTTP status phrase as `title`, as RFC 9457 defines.
- `title` is the same for every occurrence of a type; `detail` explains this occurrence.
- `instance` is the request's path.
- A validation problem (`validation_failed`, 422) lists every broken rule at once in `errors`, one
  entry per field: `location` (body, query, path, header, cookie), `field` (a dotted path inside
  it: `contact.email`, `pupils.3.age`; a header's name), `rule` (a stable code: `brin_format`,
  `string_too_long`, ...) and `message`. FastAPI's own request validation answers the same way.
- Anything more a client needs is an extension member beside these (`existing`, `deadline`, `limit`).

A service raises `Problem(...)` anywhere below a route (or maps its own errors to one with
`translate`); `install` (called by `shared.service.create_app`) answers it, FastAPI's validation
errors and HTTP exceptions, and documents the format in the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared import notfound

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "tag:vhto.nl,2026:girlsday/problems/"  # RFC 4151 tag URIs: stable names, not addresses to fetch
BLANK = "about:blank"
VALIDATION = "validation_failed"
Location = Literal["body", "query", "path", "header", "cookie"]


@dataclass(frozen=True)
class FieldError:
    """One broken rule of one field of the request."""

    location: str
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "field": self.field, "rule": self.rule, "message": self.message}


class Problem(Exception):
    """An error answer: raise it (or map to it) and the client gets it as problem details.

    `code` names the type (`duplicate_school`; None: `about:blank`); `title` defaults to the code
    in words; `extensions` become members of the answer beside the standard ones."""

    def __init__(
        self,
        status: int,
        code: str | None,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or code or HTTPStatus(status).phrase)
        clash = {"type", "title", "status", "detail", "instance", "errors"} & extensions.keys()
        if clash:
            raise ValueError(f"extension members may not be named {sorted(clash)}")
        self.status, self.code, self.detail = status, code, detail
        self.title = title or (code.replace("_", " ").capitalize() if code else _phrase(status))
        self.errors, self.headers, self.extensions = list(errors), dict(headers or {}), extensions

    @property
    def type(self) -> str:
        return TYPE_BASE + self.code if self.code else BLANK

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if instance:
            out["instance"] = instance
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        out.update(self.extensions)
        return out

    def content(self, instance: str | None = None) -> bytes:
        return orjson.dumps(self.body(instance), default=jsonable_encoder)

    def response(self, instance: str | None = None) -> Response:
        return Response(self.content(instance), self.status, headers=self.headers or None, media_type=MEDIA_TYPE)

    async def send(self, scope, send) -> None:
        """Answer a plain ASGI request with this problem (for middlewares and fast paths)."""
        content = self.content(scope.get("path"))
        headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(content)).encode())]
        headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def code(body: Mapping[str, Any]) -> str | None:
    """The short name of a problem's type (`duplicate_school`), None for `about:blank`."""
    kind = body.get("type", BLANK)
    return kind.removeprefix(TYPE_BASE) if kind.startswith(TYPE_BASE) else None


def invalid(errors: Iterable[FieldError], detail: str | None = None) -> Problem:
    """A 422 listing every broken rule."""
    errors = list(errors)
    return Problem(422, VALIDATION, detail or _summary(errors), title="The request breaks a rule", errors=errors)


def field_errors(pydantic_errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """FieldErrors of pydantic's / FastAPI's error list (its `loc` starts with the location)."""
    out = []
    for e in pydantic_errors:
        where, *path = e.get("loc") or ("body",)
        location = where if where in ("body", "query", "path", "header", "cookie") else "body"
        if location != where:
            path = [where, *path]
        out.append(FieldError(location, ".".join(str(p) for p in path), e["type"], e["msg"]))
    return out


def _summary(errors: list[FieldError]) -> str:
    parts = [f"{e.field or e.location}: {e.message}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --- FastAPI ------------------------------------------------------------------------------------


def translate(app: FastAPI, mapping: Mapping[type[Exception], Callable[[Any], Problem]]) -> None:
    """Answer a service's own exceptions as problems: `{NotFound: lambda e: Problem(404, ...)}`."""
    for error, to_problem in mapping.items():

        async def handle(request: Request, exc: Exception, _to=to_problem) -> Response:
            return _to(exc).response(request.url.path)

        app.add_exception_handler(error, handle)


def install(app: FastAPI) -> None:
    """Problems for `Problem`, FastAPI's request validation, HTTP exceptions and unexpected errors;
    the OpenAPI document describes every error answer as problem details."""

    async def problem(request: Request, exc: Problem) -> Response:
        return exc.response(request.url.path)

    async def validation(request: Request, exc: RequestValidationError) -> Response:
        return invalid(field_errors(exc.errors())).response(request.url.path)

    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and notfound.wanted(request):
            return notfound.page(request)  # a person's browser gets a page in Dutch, not JSON
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _phrase(exc.status_code) else None
        return Problem(exc.status_code, None, detail, headers=exc.headers).response(request.url.path)

    async def unexpected(request: Request, exc: Exception) -> Response:  # logged by Starlette's ServerErrorMiddleware
        return Problem(500, None, "an unexpected error; it has been logged").response(request.url.path)

    app.add_exception_handler(Problem, problem)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, unexpected)
    _document(app)


class FieldErrorModel(BaseModel):
    location: Location = Field(description="where the field is: body, query, path, header or cookie")
    field: str = Field(description="dotted path inside it (`contact.email`, `pupils.3.age`), or a header's name")
    rule: str = Field(description="the rule broken, a stable code (`brin_format`, `string_too_long`)")
    message: str


class ProblemModel(BaseModel):
    """RFC 9457 problem details; further members (`existing`, `deadline`, `limit`) depend on the type."""

    model_config = ConfigDict(extra="allow", title="Problem")
    type: str = Field(BLANK, description=f"the kind of problem: `{TYPE_BASE}<code>`, or `about:blank`")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="the request's path")
    errors: list[FieldErrorModel] | None = Field(None, description="validation problems: every broken rule, one entry per field")


def _document(app: FastAPI) -> None:
    """Every error answer (4xx, 5xx) in the OpenAPI document as `application/problem+json`."""

    generate = app.openapi  # FastAPI's own (documented seam: "Extending OpenAPI")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        definition = ProblemModel.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definition.pop("$defs", {}))
        components["Problem"] = definition
        reference = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, answer in operation.get("responses", {}).items():
                    if status[:1] in ("4", "5") or status == "default":
                        answer["content"] = reference
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
