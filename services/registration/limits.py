"""Refuse oversized request bodies (413) before they reach a route."""

from __future__ import annotations

from shared.problems import Problem

DEFAULT_LIMIT = 64 * 1024
IMPORT_LIMIT = 5 * 1024 * 1024


def _limit_for(path: str) -> int:
    return IMPORT_LIMIT if path.startswith(("/api/imports/", "/staff/imports")) else DEFAULT_LIMIT


class BodySizeLimit:
    """Pure ASGI. Content-Length is checked up front; a body without one (chunked) is buffered up
    to the limit and then replayed, so a stream can't slip past the check."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = _limit_for(scope["path"])
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                return await _refuse(scope, send, limit)
            return await self.app(scope, receive, send)
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                return await _refuse(scope, send, limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(scope, send, limit: int) -> None:
    await Problem(413, "body_too_large", f"request body larger than {limit} bytes", limit=limit).send(scope, send)
