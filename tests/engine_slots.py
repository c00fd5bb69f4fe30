"""Which of the embedded engine's slots are decoding, from llama.cpp's own /slots."""

from __future__ import annotations

import asyncio
import time

import httpx

from npc_runtime.llm.embedded import EmbeddedLLM


def busy_slots_blocking(llm: EmbeddedLLM, settle_s: float = 1.0) -> list[int]:
    """Slots the engine is decoding in. The engine releases a stopped slot on its own
    thread a moment after the call returns, so an empty answer is waited for up to
    settle_s (0: one look). Blocking: for a worker thread, such as piper's."""
    deadline = time.perf_counter() + settle_s
    with httpx.Client() as c:
        while True:
            slots = c.get(f"{llm.http_address}/slots").json()
            busy = [slot["id"] for slot in slots if slot["is_processing"]]
            if not busy or time.perf_counter() >= deadline:
                return busy
            time.sleep(0.02)


async def busy_slots(llm: EmbeddedLLM, settle_s: float = 1.0) -> list[int]:
    """busy_slots_blocking, off the event loop."""
    return await asyncio.to_thread(busy_slots_blocking, llm, settle_s)
