"""What every LLM backend offers: streamed, cancellable text generation.

A backend turns a `GenerationRequest` into an `LLMStream`: an async iterator of text deltas
that starts generating on `async with` (or on first iteration), keeps `stats` up to date, and
stops the engine promptly on `cancel()` (barge-in). Backends only write a producer (a worker
thread or an asyncio task) that posts `_Item`s into the stream's queue from the event loop;
the stream owns the state machine, the timing and the stats, so all of that lives in one place.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]


class LLMError(Exception):
    """A generation failed; the message says what was wrong and what to do about it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass
class GenerationRequest:
    messages: list[ChatMessage]
    # A JSON schema the reply must follow (constrained decoding), or None for free text.
    json_schema: dict[str, Any] | None = None
    max_tokens: int = 200
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens reused from the prefix cache
    completion_tokens: int = 0
    first_token_ms: float = 0.0  # from start to the first non-empty text delta
    # Of first_token_ms: the engine reading the uncached prompt tokens (0 = not reported).
    prompt_read_ms: float = 0.0
    total_ms: float = 0.0
    finish_reason: str = ""  # "stop", "length", "cancelled", "error", ...


class LLMBackend(Protocol):
    name: str

    def stream(self, request: GenerationRequest) -> LLMStream:
        """A stream for `request`; generation starts on `async with` or first iteration."""
        ...

    async def aclose(self) -> None:
        """Cancel running streams and free the engine / connections."""
        ...

    async def warmup(self, request: GenerationRequest) -> None:
        """Run `request` briefly so the model is loaded and its prompt prefix is cached."""
        ...


class StreamState(Enum):
    IDLE = "idle"  # created, nothing sent yet
    RUNNING = "running"  # producer started, deltas may arrive
    FINISHED = "finished"  # the engine ended the reply (stop, length) and the producer is gone
    CANCELLED = "cancelled"  # cancel() or closing the stream early
    FAILED = "failed"  # an LLMError was raised to the consumer


_TRANSITIONS: dict[StreamState, frozenset[StreamState]] = {
    StreamState.IDLE: frozenset({StreamState.RUNNING, StreamState.CANCELLED}),
    StreamState.RUNNING: frozenset(
        {StreamState.FINISHED, StreamState.CANCELLED, StreamState.FAILED}
    ),
    StreamState.FINISHED: frozenset(),
    StreamState.CANCELLED: frozenset(),
    StreamState.FAILED: frozenset(),
}
TERMINAL_STATES = frozenset(s for s, nxt in _TRANSITIONS.items() if not nxt)


# What a producer posts into the stream's queue.
@dataclass(frozen=True)
class Delta:
    text: str
    at: float  # perf_counter() when the engine produced it, not when it was consumed


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    # The engine's time reading the uncached prompt tokens; 0 = not reported.
    prompt_read_ms: float = 0.0


@dataclass(frozen=True)
class End:
    """The producer has returned: nothing more will be posted."""

    finish_reason: str
    error: LLMError | None = None


@dataclass(frozen=True)
class _Wake:
    """Posted by cancel() so a consumer blocked on the queue notices at once."""


_Item = Delta | Usage | End | _Wake


@dataclass
class _Timing:
    started: float = 0.0  # perf_counter() at start, 0 while IDLE
    first: float = 0.0


class LLMStream(ABC):
    """Async iterator of text deltas; also an async context manager (exit = cancel if running).

    After `cancel()` returns no further delta is yielded and the producer (worker thread or
    HTTP task) has ended, so the engine is no longer generating for this stream.
    """

    def __init__(self) -> None:
        self.stats = GenerationStats()
        self._state = StreamState.IDLE
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._timing = _Timing()

    # --- producer side, implemented by backends -------------------------------------------

    @abstractmethod
    def _begin(self) -> None:
        """Start the producer. It must post items with `_post`, and `End` exactly once, last."""

    @abstractmethod
    async def _halt(self) -> None:
        """Make the producer stop generating (idempotent) and wait until it has ended."""

    @property
    @abstractmethod
    def producing(self) -> bool:
        """True while the producer (thread or task) has not ended yet."""

    def _post(self, item: _Item) -> None:
        """Queue an item; call on the event loop thread."""
        self._queue.put_nowait(item)

    # --- state machine ----------------------------------------------------------------------

    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def done(self) -> bool:
        return self._state in TERMINAL_STATES

    def _move(self, new: StreamState) -> None:
        if new not in _TRANSITIONS[self._state]:
            raise RuntimeError(f"LLM stream cannot go from {self._state.value} to {new.value}")
        self._state = new
        if new in TERMINAL_STATES and self._timing.started:
            self.stats.total_ms = (time.perf_counter() - self._timing.started) * 1000.0

    def _start(self) -> None:
        self._timing.started = time.perf_counter()
        self._move(StreamState.RUNNING)
        try:
            self._begin()
        except LLMError as e:
            self._post(End("error", e))

    # --- consumer side ----------------------------------------------------------------------

    def __aiter__(self) -> LLMStream:
        return self

    async def __anext__(self) -> str:
        if self._state is StreamState.IDLE:
            self._start()
        while self._state is StreamState.RUNNING:
            item = await self._queue.get()
            if self._state is not StreamState.RUNNING:
                break  # cancelled while we waited: drop whatever was queued
            if isinstance(item, Delta):
                if not item.text:
                    continue
                if not self._timing.first:
                    self._timing.first = item.at
                    self.stats.first_token_ms = (item.at - self._timing.started) * 1000.0
                self.stats.completion_tokens += 1  # chunk count until the server's usage arrives
                return item.text
            if isinstance(item, Usage):
                self.stats.prompt_tokens = item.prompt_tokens
                self.stats.cached_tokens = item.cached_tokens
                self.stats.prompt_read_ms = item.prompt_read_ms
                self.stats.completion_tokens = item.completion_tokens
            elif isinstance(item, End):
                self.stats.finish_reason = item.finish_reason
                if item.error is not None:
                    self.stats.finish_reason = "error"
                    self._move(StreamState.FAILED)
                    raise item.error
                self._move(StreamState.FINISHED)
        raise StopAsyncIteration

    def hold(self) -> None:
        """Ask the engine to stop decoding this reply until `release()`, keeping what it
        has said. The turn holds its reply while piper synthesises the first sentence, so
        that synthesis has the cores to itself. A backend that cannot pause ignores it."""
        return None

    def release(self) -> None:
        """Let a held reply go on (nothing when it was not held)."""
        return None

    async def cancel(self) -> None:
        """Stop generating now. Returns once the producer has ended, also when the stream
        was already done (then it only makes sure the producer is gone)."""
        if not self.done:
            self.stats.finish_reason = "cancelled"
            started = self._state is StreamState.RUNNING
            self._move(StreamState.CANCELLED)
            if started:
                self._post(_Wake())
        if self._timing.started:
            await self._halt()

    async def __aenter__(self) -> LLMStream:
        if self._state is StreamState.IDLE:
            self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cancel()  # also waits for a finished stream's producer to be gone
