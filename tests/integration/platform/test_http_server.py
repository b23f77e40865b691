"""The HTTP server every service runs behind (uvicorn, as `shared.service.serve` configures it)."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from fastapi import FastAPI

from shared.service import server_config
from tests.helpers import free_port


@contextlib.asynccontextmanager
async def serving(app):
    config = server_config(app, "127.0.0.1", free_port())
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield config.port
    finally:
        server.should_exit = True
        await task


async def _request(reader, writer) -> bytes:
    writer.write(b"GET /ping HTTP/1.1\r\nHost: test\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    return head.split(b"\r\n")[0] + b" " + await reader.readexactly(length)


async def test_an_idle_keep_alive_connection_outlasts_the_clients_own_idle_timeout():
    """httpx keeps an idle connection 5 s and then may send on it: the server must not close it first
    (uvicorn's default of 5 s raced it: the request met a closing socket, httpx.ReadError; issue 20)."""
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict:
        return {"ok": True}

    async with serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _request(reader, writer) == b'HTTP/1.1 200 OK {"ok":true}'
        await asyncio.sleep(6.0)  # longer than httpx's keepalive_expiry (5 s)
        assert await _request(reader, writer) == b'HTTP/1.1 200 OK {"ok":true}'
        writer.close()
