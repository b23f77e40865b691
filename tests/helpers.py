"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Await `check()` until it returns something truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)
