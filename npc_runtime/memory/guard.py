"""Redis calls that survive an outage: fail fast, queue writes, retry in the background.

When Redis cannot be reached, reads give up at once (the caller answers
without memory), writes wait in a bounded queue, and a background task pings
Redis every retry interval and writes the queue out, oldest first, when it
answers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .connection import Redis
from .meta import IndexMismatch
from .vectors import Command
from .write_queue import WriteQueue

log = logging.getLogger(__name__)

# Failures that mean "Redis is not there" (as opposed to a refused command).
DOWN = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


@dataclass
class MemoryStats:
    recall_failures: int = 0  # recalls that went without Redis
    write_failures: int = 0  # writes that had to be queued
    reflections: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class RedisGuard:
    def __init__(self, redis: Redis, queue_max: int, retry_interval_s: float) -> None:
        self.redis = redis
        self.queue = WriteQueue(queue_max)
        self.stats = MemoryStats()
        self.retry_interval_s = retry_interval_s
        self.down = False
        self._keeper: asyncio.Task[None] | None = None

    async def run(self, cmds: list[Command], *, transaction: bool = True) -> list[Any]:
        """All of `cmds` in one round trip (raises when Redis is down)."""
        async with self.redis.pipeline(transaction=transaction) as pipe:
            for cmd in cmds:
                pipe.execute_command(*cmd)
            result: list[Any] = await pipe.execute()
            return result

    async def write(self, cmds: list[Command]) -> list[Any] | None:
        """Run `cmds` atomically, or queue them if Redis is down; None when queued."""
        if self.down or len(self.queue):
            # Behind queued writes: keep the order a reader would expect.
            self.queue.put(cmds)
            self.stats.write_failures += 1
            return None
        try:
            return await self.run(cmds)
        except DOWN as e:
            self.mark_down(e, "write")
            self.queue.put(cmds)
            self.stats.write_failures += 1
            return None

    def mark_down(self, error: BaseException, during: str) -> None:
        if not self.down:
            log.warning(
                "redis unreachable during %s (%s); turns go on without memory, writes are "
                "queued until it returns",
                during,
                str(error) or type(error).__name__,
            )
        self.down = True

    async def flush(self) -> None:
        n = await self.queue.flush(self.redis)
        if n:
            log.info("wrote %d queued memory writes", n)

    def start(self, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        """Start the background task; on_reconnect runs (checks) before the queue is written."""
        self._keeper = asyncio.create_task(self._keep(on_reconnect), name="memory-keeper")

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        if len(self.queue):
            log.warning("memory closed with %d writes unwritten (Redis down)", len(self.queue))

    async def _keep(self, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(self.retry_interval_s)
            if not self.down and not len(self.queue):
                continue
            was_down = self.down
            try:
                await self.redis.ping()  # type: ignore[misc]
                await on_reconnect()
                self.down = False
                await self.flush()
                if was_down:
                    log.warning("redis is back; memory works again")
            except DOWN:
                self.down = True
            except IndexMismatch as e:
                log.error("%s", e)
            except Exception:
                log.exception("memory keeper failed; retrying")
