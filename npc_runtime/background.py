"""Writes that must outlive the session that started them.

A player who hangs up mid-turn still said what they said: the memory and
feeling writes their session queued belong to the runtime, not the session,
so a disconnect does not cancel them and shutdown waits for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    """A set of fire-and-forget tasks that can be awaited as a whole."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failed = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        if (e := task.exception()) is not None:
            # The stores log and count their own outages; this is the last resort.
            self.failed += 1
            log.warning("%s write failed: %s", self.name, e)

    async def settle(self, timeout: float | None = None) -> bool:
        """Wait until every task (including ones spawned meanwhile) is done;
        False when the timeout came first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(list(self._tasks), timeout=left)
        return True
