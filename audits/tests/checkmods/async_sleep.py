"""An `async def run` check: sleeps `seconds`, then returns `ok`."""

import asyncio


async def run(seconds: float = 0.0, ok: bool = True) -> tuple[bool, float]:
    await asyncio.sleep(seconds)
    return ok, seconds
