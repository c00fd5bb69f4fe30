"""The queue of events on their way to one client.

Audio leaves at the pace it plays, a little ahead (`lead_ms`), as a voice
pipeline should: the client needs only a small jitter buffer, the server knows
how much the player can have heard, and a barge-in stops the voice within
about `lead_ms` instead of after whatever was queued on the client.

Control events never wait behind stale or paced media: when a turn is
cancelled its queued text and audio are purged, and events that do not belong
to the paced turn (SpeechStarted, transcripts, errors) overtake its audio.
The outbox also counts the audio actually handed to the transport per turn,
which is what history keeps when the client sends no playback reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass

from .events import MEDIA_EVENTS, AudioOut, ServerOut


class _Close:
    """Marks the end of the stream."""


_CLOSE = _Close()


@dataclass
class _Clock:
    """When a turn's audio started leaving, to pace the rest against."""

    start: float


class Outbox:
    def __init__(self, lead_ms: float | None = 500.0) -> None:
        # lead_ms None: no pacing, everything goes as soon as it exists.
        self.lead_ms = lead_ms
        self._items: list[ServerOut | _Close] = []
        self._changed = asyncio.Event()
        self._popped = asyncio.Event()
        self._dropped: set[str] = set()
        self._clocks: dict[str, _Clock] = {}
        self.sent_audio_ms: defaultdict[str, float] = defaultdict(float)
        self.closed = False

    def __len__(self) -> int:
        """Events waiting to be sent (a queue-depth metric)."""
        return len(self._items)

    def emit(self, event: ServerOut) -> None:
        if self.closed:
            return
        turn_id = getattr(event, "turn_id", "")
        if turn_id and turn_id in self._dropped and isinstance(event, MEDIA_EVENTS):
            return
        self._items.append(event)
        self._changed.set()

    def drop_turn(self, turn_id: str) -> None:
        """No more media of this turn goes out, including what is already queued."""
        self._dropped.add(turn_id)
        self._items = [
            e
            for e in self._items
            if not (isinstance(e, MEDIA_EVENTS) and getattr(e, "turn_id", "") == turn_id)
        ]
        self._changed.set()
        self._popped.set()

    def close(self) -> None:
        self._items.append(_CLOSE)
        self._changed.set()
        self.closed = True

    def _due(self, audio: AudioOut, now: float) -> float:
        """Seconds until this chunk may leave (<= 0: now)."""
        if self.lead_ms is None:
            return 0.0
        clock = self._clocks.get(audio.turn_id)
        if clock is None:
            return 0.0
        return clock.start + (audio.offset_ms - self.lead_ms) / 1000.0 - now

    def _pick(self, now: float) -> tuple[int, float]:
        """Index of the next item to send, or (-1, seconds to wait)."""
        blocked: str | None = None
        wait = 0.0
        for i, item in enumerate(self._items):
            if isinstance(item, _Close):
                return (i, 0.0) if blocked is None else (-1, wait)
            turn_id = getattr(item, "turn_id", "")
            if blocked is None:
                if isinstance(item, AudioOut):
                    due = self._due(item, now)
                    if due > 0:
                        blocked, wait = item.turn_id, due
                        continue
                return i, 0.0
            # Behind paced audio: only what is unrelated to that turn may overtake.
            if turn_id != blocked:
                return i, 0.0
        return -1, (wait if blocked is not None else -1.0)

    async def next(self) -> ServerOut | None:
        """The next event to send, or None when the outbox is closed."""
        while True:
            index, wait = self._pick(time.perf_counter())
            if index >= 0:
                break
            self._changed.clear()
            if wait < 0:
                await self._changed.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), wait)
        item = self._items.pop(index)
        self._popped.set()
        if isinstance(item, _Close):
            return None
        if isinstance(item, AudioOut):
            if item.turn_id not in self._clocks:
                self._clocks[item.turn_id] = _Clock(time.perf_counter() - item.offset_ms / 1000.0)
            self.sent_audio_ms[item.turn_id] += item.duration_ms
        return item

    def pending_media(self, turn_id: str) -> int:
        return sum(
            1
            for e in self._items
            if isinstance(e, MEDIA_EVENTS) and getattr(e, "turn_id", "") == turn_id
        )

    async def drained(self, turn_id: str) -> None:
        """Wait until every queued text and audio event of this turn has been sent."""
        while self.pending_media(turn_id) and not self.closed:
            self._popped.clear()
            await self._popped.wait()

    def forget_turn(self, turn_id: str) -> None:
        self._clocks.pop(turn_id, None)
        self.sent_audio_ms.pop(turn_id, None)
