"""Memory writes held while Redis is down, written in order when it returns."""

from __future__ import annotations

import logging
from collections import deque

from redis.exceptions import ResponseError

from . import keys
from .connection import Redis
from .vectors import Command

log = logging.getLogger(__name__)


class WriteQueue:
    """Bounded: when full the oldest write goes, so a long outage cannot eat all RAM."""

    def __init__(self, maxlen: int) -> None:
        self._items: deque[list[Command]] = deque()
        self.maxlen = maxlen
        self.dropped = 0
        self.flushed = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, commands: list[Command]) -> None:
        if len(self._items) >= self.maxlen:
            self._items.popleft()
            self.dropped += 1
            log.warning("memory write queue full; dropped the oldest write")
        self._items.append(commands)

    def drop_player(self, player_id: str, character_id: str | None = None) -> int:
        """Forget queued writes about a player, so a flush cannot bring them back."""
        prefix = keys.player_pattern(player_id, character_id).rstrip("*")
        before = len(self._items)
        self._items = deque(
            batch
            for batch in self._items
            if not any(isinstance(c[1], str) and c[1].startswith(prefix) for c in batch)
        )
        return before - len(self._items)

    async def flush(self, r: Redis) -> int:
        """Write queued batches oldest first; stops (keeping the rest) at the first failure."""
        done = 0
        while self._items:
            batch = self._items[0]
            try:
                async with r.pipeline(transaction=True) as pipe:
                    for cmd in batch:
                        pipe.execute_command(*cmd)
                    await pipe.execute()
            except ResponseError as e:
                # Redis refused the write itself (not the connection): retrying cannot help.
                log.error("dropped a queued memory write that Redis refused: %s", e)
                self.dropped += 1
            self._items.popleft()
            done += 1
        self.flushed += done
        return done
