"""Keep a session's next prompt in the engine's prefix cache while the player talks.

On two CPU cores the embedded model reads a prompt at about 250 tokens a second, so a
returning player's turn used to spend most of its first-token time re-reading what was
already known before they spoke: the last exchange, the scene, the mood. The session
now sends that prefix ahead (a one-token request) whenever it changes (the session
opens, a turn ends, the scene changes, the player starts speaking) and the engine
caches it; the turn then reads only its recall and the player's words.

A turn waits for a priming still in flight instead of racing it: both would read the
same tokens, in two engine slots, on the same two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass

from .base import GenerationRequest, LLMBackend, LLMError

log = logging.getLogger(__name__)


@dataclass
class PrimeStats:
    """Counts across the runtime (metrics)."""

    sent: int = 0  # primings that reached the engine
    skipped: int = 0  # already primed, or superseded by a newer one before it was sent
    failed: int = 0


_Key = tuple[tuple[str, str], ...]


class InFlight:
    """The primings being read by the engine, across sessions, by prompt.

    Two sessions often prime the very same prompt at once: when a player's session
    closes after a turn and their next one opens, both send the conversation so far.
    Sent twice, the copies go to two engine slots and share the two cores, and each
    takes twice as long (measured: ~1.3 s each instead of well under 0.5 s), which
    delays the next turn's listening ahead. The second waits for the first instead.
    """

    def __init__(self) -> None:
        self._running: dict[_Key, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._running)

    def running(self, key: _Key) -> asyncio.Future[None] | None:
        return self._running.get(key)

    def begin(self, key: _Key) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running[key] = done
        return done

    def end(self, key: _Key, done: asyncio.Future[None]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.done():
            done.set_result(None)


def _key(request: GenerationRequest) -> _Key:
    return tuple((m.role, m.content) for m in request.messages)


class PromptPrimer:
    """One per session. `prime` is fire-and-forget; `settle` waits for the one in flight.

    One priming at a time per session, and only the newest waiting one is sent: when
    the player's words change the recall twice while the engine reads, the middle
    version is stale before it starts.
    """

    def __init__(
        self, llm: LLMBackend, stats: PrimeStats | None = None, in_flight: InFlight | None = None
    ) -> None:
        self._llm = llm
        self.stats = stats or PrimeStats()
        # Shared by the sessions of one engine; a primer of its own sees only itself.
        self.in_flight = InFlight() if in_flight is None else in_flight  # empty is falsy
        self._last: _Key | None = None
        # The newest priming not yet sent, with its key.
        self._waiting: tuple[GenerationRequest, _Key] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def prime(self, request: GenerationRequest) -> bool:
        """Send `request`'s prompt ahead unless it is the one primed last; True if queued."""
        key = _key(request)
        if key == self._last:
            self.stats.skipped += 1
            return False
        self._last = key
        if self._waiting is not None:
            self.stats.skipped += 1  # superseded before it was sent
        # No schema: one token is generated, and a grammar only costs set-up time.
        one = dataclasses.replace(request, max_tokens=1, json_schema=None, temperature=0.0)
        if self.busy:
            self._waiting = (one, key)
        else:
            self._task = asyncio.get_running_loop().create_task(self._run((one, key)))
        return True

    def forget(self) -> None:
        """The cache may no longer hold what was primed (e.g. after a failed turn)."""
        self._last = None
        self._waiting = None

    async def _run(self, first: tuple[GenerationRequest, _Key]) -> None:
        item: tuple[GenerationRequest, _Key] | None = first
        while item is not None:
            request, key = item
            other = self.in_flight.running(key)
            if other is not None:
                # Another session is priming this very prompt: the cache will hold it
                # when that one ends. (shield: cancelling this primer must not end it.)
                self.stats.skipped += 1
                await asyncio.shield(other)
            else:
                done = self.in_flight.begin(key)
                try:
                    # warmup: a one-token request on engines with a prefix cache, nothing
                    # on the scripted backend (whose replies are a script, not a cache).
                    await self._llm.warmup(request)
                    self.stats.sent += 1
                except LLMError as e:
                    # Priming is an optimisation: the turn itself reports engine trouble.
                    self.stats.failed += 1
                    self._last = None
                    log.debug("prompt priming failed: %s", e)
                finally:
                    self.in_flight.end(key, done)
            item, self._waiting = self._waiting, None

    async def settle(self, timeout_s: float = 5.0) -> float:
        """A turn is about to ask: drop primings not yet sent (the turn's own request
        supersedes them) and wait for the one in flight, at most `timeout_s`; the
        milliseconds waited."""
        if self._waiting is not None:
            self._waiting = None
            self._last = None  # never sent: a later prime of it must not be skipped
        task = self._task
        if task is None or task.done():
            return 0.0
        t0 = time.perf_counter()
        # asyncio.wait, not wait_for: a timeout leaves the priming running, and only
        # the caller's own cancellation propagates.
        await asyncio.wait({task}, timeout=timeout_s)
        return (time.perf_counter() - t0) * 1000.0

    async def drained(self) -> None:
        """Until every queued priming has been sent (for tests)."""
        while (task := self._task) is not None and not task.done():
            await asyncio.wait({task})

    async def aclose(self) -> None:
        self._waiting = None
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
