"""OpenTelemetry traces: one trace per turn, one span per stage.

Optional: `pip install 'npc-runtime[otel]'`. Without the package every call here
is a no-op. Spans are built when the turn ends, from its TurnEnd timings (the
same numbers clients get), with their real start and end times, so the hot
path of a turn carries no tracing code:

    npc.turn                     end of speech (or text arrival) → TurnEnd
      ├ npc.end_of_speech        silence waited before the utterance was over
      ├ npc.asr                  Whisper
      ├ npc.perceive, npc.recall scene summary, knowledge and memories
      ├ npc.llm                  the LLM request (event: first_token)
      ├ npc.plan                 the reply's actions planned against the scene
      └ npc.tts                  from the first sentence's synthesis, its summed length
    events on npc.turn: first_text_sent, first_audio_sent

telemetry.otel_exporter: "console" prints spans to stderr, "otlp" sends them over
OTLP/HTTP (telemetry.otlp_endpoint, or the OTEL_EXPORTER_OTLP_* variables; needs
opentelemetry-exporter-otlp-proto-http, part of the extra), "" leaves them to a
tracer provider the host process configured (none: dropped).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from .config import TelemetrySettings
from .events import Timings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnSpanInfo:
    """What a turn's root span is labelled with."""

    turn_id: str
    session_id: str
    character_id: str
    cause: str
    interrupted: bool
    reference: float  # time.perf_counter() of the turn's reference point
    error: str = ""


def stage_spans(t: Timings) -> list[tuple[str, float, float]]:
    """(name, start ms, end ms) relative to the turn's reference, for stages that ran."""
    out: list[tuple[str, float, float]] = []
    if t.end_of_speech_ms:
        out.append(("npc.end_of_speech", 0.0, t.end_of_speech_ms))
    if t.asr_ms:
        end = t.transcript_at_ms or (t.end_of_speech_ms + t.asr_ms)
        out.append(("npc.asr", end - t.asr_ms, end))
    llm_start = t.llm_start_at_ms
    if t.recall_ms:
        out.append(("npc.recall", llm_start - t.recall_ms, llm_start))
    if t.perceive_ms:
        start = llm_start - t.recall_ms - t.perceive_ms
        out.append(("npc.perceive", start, start + t.perceive_ms))
    if t.llm_total_ms:
        out.append(("npc.llm", llm_start, llm_start + t.llm_total_ms))
        if t.plan_ms:
            end = llm_start + t.llm_total_ms
            out.append(("npc.plan", end, end + t.plan_ms))
    if t.tts_total_ms:
        start = t.tts_start_at_ms or t.first_sentence_at_ms
        out.append(("npc.tts", start, start + t.tts_total_ms))
    return out


class Tracing:
    """Turns → spans, or nothing when OpenTelemetry is not installed."""

    def __init__(self, settings: TelemetrySettings, provider: Any = None) -> None:
        self._tracer: Any = None
        self._provider: Any = None
        try:
            from opentelemetry import trace
        except ImportError:
            if settings.otel_exporter:
                log.warning(
                    "telemetry.otel_exporter=%s but OpenTelemetry is not installed: "
                    "pip install 'npc-runtime[otel]'; tracing is off",
                    settings.otel_exporter,
                )
            return
        if provider is None and settings.otel_exporter:
            provider = self._provider = _provider(settings)
        self._tracer = (
            provider.get_tracer("npc_runtime")
            if provider is not None
            else trace.get_tracer("npc_runtime")
        )

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def turn(self, info: TurnSpanInfo, t: Timings) -> None:
        """Record one finished turn as a trace."""
        if self._tracer is None:
            return
        from opentelemetry.trace import Status, StatusCode, set_span_in_context

        # The reference point in wall-clock nanoseconds.
        ref_ns = time.time_ns() - int((time.perf_counter() - info.reference) * 1e9)

        def at(ms: float) -> int:
            return ref_ns + int(ms * 1e6)

        stages = stage_spans(t)
        first = min([0.0, *(s for _, s, _ in stages)])
        root = self._tracer.start_span(
            "npc.turn",
            start_time=at(first),
            attributes={
                "npc.turn_id": info.turn_id,
                "npc.session_id": info.session_id,
                "npc.character": info.character_id,
                "npc.cause": info.cause,
                "npc.interrupted": info.interrupted,
                "npc.speculative": t.speculative,
                "npc.llm.prompt_tokens": t.llm_prompt_tokens,
                "npc.llm.cached_tokens": t.llm_cached_tokens,
                "npc.llm.completion_tokens": t.llm_completion_tokens,
                "npc.llm.prompt_read_ms": t.llm_prompt_read_ms,
                "npc.audio_ms": t.audio_ms,
            },
        )
        ctx = set_span_in_context(root)
        for name, start, end in stages:
            span = self._tracer.start_span(name, context=ctx, start_time=at(start))
            if name == "npc.llm" and t.llm_first_token_ms:
                span.add_event("first_token", timestamp=at(start + t.llm_first_token_ms))
            span.end(end_time=at(max(start, end)))
        if t.first_text_sent_at_ms:
            root.add_event("first_text_sent", timestamp=at(t.first_text_sent_at_ms))
        if t.first_audio_sent_at_ms:
            root.add_event("first_audio_sent", timestamp=at(t.first_audio_sent_at_ms))
        if info.error:
            root.set_status(Status(StatusCode.ERROR, info.error))
        root.end(end_time=at(max(t.total_ms, first)))

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
            self._provider = None


def _provider(settings: TelemetrySettings) -> Any:
    """An SDK tracer provider with the configured exporter (None when the SDK is missing)."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        log.warning("opentelemetry-sdk is not installed: pip install 'npc-runtime[otel]'")
        return None
    exporter: Any
    if settings.otel_exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning(
                "telemetry.otel_exporter=otlp needs opentelemetry-exporter-otlp-proto-http: "
                "pip install 'npc-runtime[otel]'; tracing is off"
            )
            return None
        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint or None)
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
