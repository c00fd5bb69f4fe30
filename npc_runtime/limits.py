"""Rate limits: token buckets per session and per API key.

Every client message costs one message token; messages that start a turn
(TextInput, a Trigger with react) also cost a turn token. A message over a limit
is refused with RESOURCE_EXHAUSTED and a retry hint; the session goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import ServerSettings

Clock = Callable[[], float]


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; rate 0 = unlimited."""

    rate: float
    burst: float
    clock: Clock = time.monotonic
    tokens: float = field(init=False)
    at: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.at = self.clock()

    def take(self) -> float:
        """Take one token: 0 if there was one, else the seconds until there is."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class RateLimit:
    """Messages per second and turns per minute for one holder (a session or a key)."""

    what: str  # "this session", "API key 'kiosk'"
    messages: TokenBucket
    turns: TokenBucket
    messages_setting: str
    turns_setting: str

    @classmethod
    def create(
        cls,
        what: str,
        messages_per_s: float,
        turns_per_min: float,
        settings: tuple[str, str],
        clock: Clock = time.monotonic,
    ) -> RateLimit:
        return cls(
            what,
            # A second's worth of burst (at least 10): clients send audio in bursts
            # after a hiccup.
            TokenBucket(messages_per_s, max(10.0, messages_per_s), clock),
            # Up to a fifth of a minute's turns at once (at least 3).
            TokenBucket(turns_per_min / 60.0, max(3.0, turns_per_min / 5.0), clock),
            *settings,
        )

    def check(self, starts_turn: bool) -> str | None:
        """None when allowed, else why not (with a retry hint)."""
        wait = self.messages.take()
        if wait:
            return (
                f"{self.what} sends more than {self.messages.rate:g} messages per second "
                f"({self.messages_setting}); this message was dropped, retry in {_secs(wait)}"
            )
        if starts_turn:
            wait = self.turns.take()
            if wait:
                return (
                    f"{self.what} starts more than {self.turns.rate * 60:g} turns per minute "
                    f"({self.turns_setting}); this turn was not started, retry in {_secs(wait)}"
                )
        return None


def session_limit(s: ServerSettings, clock: Clock = time.monotonic) -> RateLimit:
    return RateLimit.create(
        "this session",
        s.session_messages_per_s,
        s.session_turns_per_min,
        ("server.session_messages_per_s", "server.session_turns_per_min"),
        clock,
    )


class KeyLimits:
    """One RateLimit per API key name, shared by all its sessions."""

    def __init__(self, settings: ServerSettings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._limits: dict[str, RateLimit] = {}

    def get(self, key_name: str) -> RateLimit | None:
        s = self.settings
        if not (s.key_messages_per_s or s.key_turns_per_min):
            return None
        limit = self._limits.get(key_name)
        if limit is None:
            limit = self._limits[key_name] = RateLimit.create(
                f"API key {key_name!r}",
                s.key_messages_per_s,
                s.key_turns_per_min,
                ("server.key_messages_per_s", "server.key_turns_per_min"),
                self.clock,
            )
        return limit


def _secs(s: float) -> str:
    return f"{max(0.1, s):.1f} s"
