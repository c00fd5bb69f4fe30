"""Prometheus metrics of one runtime: turn stages, sessions, turns, errors, queues, tokens.

Each Runtime owns a `Metrics` with a registry of its own (two runtimes in one
process, as in the tests, do not mix their numbers). The gateway serves it as
Prometheus text at `GET /metrics`; queue depths are read at scrape time.

    npc_turn_stage_seconds{stage}          histogram, from TurnEnd timings
    npc_turn_runtime_overhead_seconds      histogram, wall time minus model time (text turns)
    npc_sessions{transport}                gauge, open sessions (grpc, websocket)
    npc_sessions_opened_total{transport}   counter
    npc_sessions_refused_total{code}       counter
    npc_turns_total{cause,outcome}         counter (outcome: completed, interrupted, failed)
    npc_errors_total{code}                 counter, Error events sent (by gRPC code name)
    npc_llm_tokens_total{kind}             counter (prompt, cached, completion)
    npc_outbox_events                      gauge, events queued for clients, all sessions
    npc_memory_write_queue                 gauge, memory writes held while Redis is down
    npc_background_writes                  gauge, memory and feeling writes in flight
    npc_memory_up                          gauge, 1 while Redis answers
    npc_speculations{result}               gauge, speculative turns since start
    npc_prompt_primes{result}              gauge, prompt prefixes sent ahead (sent, skipped, failed)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from .events import ErrorCode, Timings

if TYPE_CHECKING:
    from .runtime import Runtime
    from .session import Session

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Durations of a turn's stages (Timings fields). A zero means the stage did not run
# in that turn (a text turn has no ASR), so zeros are not observed.
STAGES = (
    "end_of_speech_ms",
    "asr_ms",
    "asr_wait_ms",
    "recall_ms",
    "perceive_ms",
    "prime_wait_ms",
    "llm_prompt_read_ms",
    "llm_first_token_ms",
    "first_sentence_ms",
    "llm_total_ms",
    "plan_ms",
    "tts_first_audio_ms",
    "tts_total_ms",
    "send_wait_ms",
    "first_text_sent_at_ms",
    "first_audio_sent_at_ms",
    "total_ms",
)

# 1 ms … 60 s: runtime overhead lives at the bottom, whole paced turns at the top.
_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    20.0,
    60.0,
)
_OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def stage_name(field: str) -> str:
    """'llm_first_token_ms' → 'llm_first_token' (the label value)."""
    return field.removesuffix("_ms")


def model_ms(t: Timings) -> float:
    """Time spent in models and the memory store during a turn (what the runtime waits on)."""
    return t.asr_ms + t.recall_ms + t.llm_total_ms + t.tts_total_ms


def overhead_ms(t: Timings) -> float:
    """The runtime's own time in a turn: wall time from the input to TurnEnd minus model
    time. Meaningful for text turns without paced audio (otherwise playback dominates)."""
    return max(0.0, t.total_ms - model_ms(t))


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.stage = Histogram(
            "npc_turn_stage_seconds",
            "Duration of each stage of a turn, from the TurnEnd timings",
            ["stage"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "npc_turn_runtime_overhead_seconds",
            "Wall time of a turn minus ASR, recall, LLM and TTS time (turns without paced audio)",
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.sessions = Gauge("npc_sessions", "Open sessions", ["transport"], registry=r)
        self.sessions_opened = Counter(
            "npc_sessions_opened", "Sessions opened", ["transport"], registry=r
        )
        self.sessions_refused = Counter(
            "npc_sessions_refused", "Streams refused before a session started", ["code"], registry=r
        )
        self.turns = Counter("npc_turns", "Turns ended", ["cause", "outcome"], registry=r)
        self.errors = Counter("npc_errors", "Error events sent to clients", ["code"], registry=r)
        self.tokens = Counter("npc_llm_tokens", "LLM tokens", ["kind"], registry=r)
        self.outbox = Gauge(
            "npc_outbox_events", "Events queued for clients, over all sessions", registry=r
        )
        self.write_queue = Gauge(
            "npc_memory_write_queue", "Memory writes held while Redis is unreachable", registry=r
        )
        self.background = Gauge(
            "npc_background_writes", "Memory and feeling writes in flight", registry=r
        )
        self.memory_up = Gauge("npc_memory_up", "1 while the memory store answers", registry=r)
        self.speculations = Gauge(
            "npc_speculations",
            "Speculative turns since start (started, used, discarded, early_recall)",
            ["result"],
            registry=r,
        )
        self.primes = Gauge(
            "npc_prompt_primes",
            "Prompt prefixes sent ahead to the LLM since start (sent, skipped, failed)",
            ["result"],
            registry=r,
        )
        for transport in ("grpc", "websocket"):
            self.sessions.labels(transport)
        for kind in ("prompt", "cached", "completion"):
            self.tokens.labels(kind)

    # --- events ---------------------------------------------------------------------

    def session_opened(self, transport: str) -> None:
        self.sessions.labels(transport).inc()
        self.sessions_opened.labels(transport).inc()

    def session_closed(self, transport: str) -> None:
        self.sessions.labels(transport).dec()

    def refused(self, code: ErrorCode) -> None:
        self.sessions_refused.labels(code.name).inc()

    def error(self, code: ErrorCode) -> None:
        self.errors.labels(code.name).inc()

    def turn_ended(self, cause: str, timings: Timings, *, interrupted: bool, failed: bool) -> None:
        outcome = "interrupted" if interrupted else "failed" if failed else "completed"
        self.turns.labels(cause, outcome).inc()
        for name in STAGES:
            value = float(getattr(timings, name))
            if value > 0:
                self.stage.labels(stage_name(name)).observe(value / 1000.0)
        if not timings.audio_ms and not interrupted and timings.total_ms > 0:
            self.overhead.observe(overhead_ms(timings) / 1000.0)
        self.tokens.labels("prompt").inc(timings.llm_prompt_tokens)
        self.tokens.labels("cached").inc(timings.llm_cached_tokens)
        self.tokens.labels("completion").inc(timings.llm_completion_tokens)

    # --- scrape -----------------------------------------------------------------------

    def refresh(self, runtime: Runtime, sessions: Iterable[Session] = ()) -> None:
        """Read the queue depths (cheap: lengths only)."""
        self.outbox.set(sum(len(s.outbox) for s in sessions))
        memory = runtime.memory
        self.write_queue.set(len(memory.queue) if memory is not None else 0)
        self.memory_up.set(1 if memory is not None and memory.available else 0)
        self.background.set(len(runtime.writes) + len(runtime.emotions.saves))
        spec = runtime.speculations
        self.speculations.labels("started").set(spec.started)
        self.speculations.labels("used").set(spec.used)
        self.speculations.labels("discarded").set(spec.discarded)
        self.speculations.labels("early_recall").set(spec.early_recalls)
        primes = runtime.primes
        self.primes.labels("sent").set(primes.sent)
        self.primes.labels("skipped").set(primes.skipped)
        self.primes.labels("failed").set(primes.failed)

    def render(self, runtime: Runtime, sessions: Iterable[Session] = ()) -> bytes:
        """The Prometheus text exposition."""
        self.refresh(runtime, sessions)
        return generate_latest(self.registry)

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        """One sample's value (0 when absent): for tests and the CLI."""
        value = self.registry.get_sample_value(name, labels or {})
        return float(value) if value is not None else 0.0


def as_dict(metrics: Metrics) -> dict[str, Any]:
    """Every sample, {name{labels}: value}: a compact view for logs and tests."""
    out: dict[str, Any] = {}
    for family in metrics.registry.collect():
        for s in family.samples:
            key = s.name + (
                "{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
                if s.labels
                else ""
            )
            out[key] = s.value
    return out
