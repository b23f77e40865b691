"""Small pieces of plain ASGI for the services' fast paths (routes answered before FastAPI).

A fast path reads the request body itself; when it then leaves the request to FastAPI after all,
FastAPI must receive the very same messages: `read_body` keeps them, `replay` gives them again.
"""

from __future__ import annotations


async def read_body(receive) -> tuple[list[dict], bytes | None]:
    """Every message of the request body, and the body (None if the client went away)."""
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def replay(messages: list[dict], receive):
    """A `receive` that gives the messages already read, then the rest."""
    pending = list(messages)

    async def replayed() -> dict:
        return pending.pop(0) if pending else await receive()

    return replayed


def is_json(content_type: bytes | None) -> bool:
    """Whether a Content-Type header value is JSON (`application/json`, any parameters)."""
    return content_type is not None and content_type.split(b";", 1)[0].strip().lower() == b"application/json"
