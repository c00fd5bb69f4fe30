"""A backend that answers from a script instead of a model.

For what a model cannot do reproducibly: scenario tests of the action planner
(the reply must ask for exactly "give the axe"), and measuring the runtime's
own overhead without model compute. It streams its replies in small pieces, at
a configurable pace, through the same LLMStream machinery as the real engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .base import Delta, End, GenerationRequest, LLMStream, Usage

# A script maps the request to the reply: a JSON-ready dict (emotion, say,
# actions) or the raw text to stream.
Script = Callable[[GenerationRequest], dict[str, Any] | str]

CANNED_SAY = "Sure thing. Anything else I can get you?"


def canned_reply(request: GenerationRequest) -> dict[str, Any]:
    """llm.backend = "scripted": the same short reply to everything, at once."""
    return {"emotion": "neutral", "say": CANNED_SAY, "actions": []}


class ScriptedLLM:
    def __init__(
        self,
        script: Script,
        chars_per_delta: int = 6,
        delay_s: float = 0.0,
        keep_requests: int = 1000,
    ) -> None:
        self.name = "scripted"
        self.script = script
        self.chars_per_delta = max(1, chars_per_delta)
        self.delay_s = delay_s
        # The latest requests, for tests to inspect (bounded: a server may run for days).
        self.requests: deque[GenerationRequest] = deque(maxlen=keep_requests)

    def stream(self, request: GenerationRequest) -> LLMStream:
        self.requests.append(request)
        reply = self.script(request)
        if isinstance(reply, dict) and request.json_schema is not None:
            # In the order the schema asks for, as a constrained model would write it.
            keys = list(request.json_schema.get("properties", {}))
            reply = {k: reply[k] for k in keys if k in reply} | reply
        text = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
        return ScriptedStream(text, self.chars_per_delta, self.delay_s)

    async def aclose(self) -> None:
        return None

    async def warmup(self, request: GenerationRequest) -> None:
        return None


class ScriptedStream(LLMStream):
    def __init__(self, text: str, chars_per_delta: int, delay_s: float) -> None:
        super().__init__()
        self._text = text
        self._step = chars_per_delta
        self._delay = delay_s
        self._task: asyncio.Task[None] | None = None

    @property
    def producing(self) -> bool:
        return self._task is not None and not self._task.done()

    def _begin(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        pieces = [self._text[i : i + self._step] for i in range(0, len(self._text), self._step)]
        try:
            for piece in pieces:
                await asyncio.sleep(self._delay)  # 0 still yields, as a real engine would
                self._post(Delta(piece, time.perf_counter()))
            self._post(Usage(0, 0, len(pieces)))
            self._post(End("stop"))
        except asyncio.CancelledError:
            self._post(End("cancelled"))
            raise

    async def _halt(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
