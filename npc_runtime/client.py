"""A small asyncio gRPC client for the Converse stream, used by the CLI, the
benchmark and the tests (and a reference for engine bridges)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import numpy as np

from .audio import float_to_pcm16
from .server.gen.npc.v1 import npc_pb2 as pb
from .server.gen.npc.v1 import npc_pb2_grpc as pb_grpc

_END = object()


def channel(
    address: str,
    max_message_bytes: int = 8 * 1024 * 1024,
    api_key: str | None = None,
    tls_ca: Path | None = None,
    tls: bool = False,
) -> grpc.aio.Channel:
    """A channel to the server. api_key: sent as `authorization: Bearer <key>` on
    every call. tls_ca: PEM of the CA (or self-signed certificate) to trust, which
    turns TLS on; tls=True alone trusts the system's CAs."""
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    interceptors: Any = (
        [cls(api_key) for cls in (_BearerUnaryUnary, _BearerUnaryStream, _BearerStreamStream)]
        if api_key
        else None
    )
    if tls_ca is not None or tls:
        creds = grpc.ssl_channel_credentials(tls_ca.read_bytes() if tls_ca else None)
        return grpc.aio.secure_channel(address, creds, options=options, interceptors=interceptors)
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)


if TYPE_CHECKING:
    _UU = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    _US = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
    _SS = grpc.aio.StreamStreamClientInterceptor[Any, Any]
else:  # not subscriptable at run time
    _UU = grpc.aio.UnaryUnaryClientInterceptor
    _US = grpc.aio.UnaryStreamClientInterceptor
    _SS = grpc.aio.StreamStreamClientInterceptor


class _BearerAuth:
    """Adds the API key to a call's metadata."""

    def __init__(self, api_key: str) -> None:
        self.header = ("authorization", f"Bearer {api_key}")

    def _with_key(self, details: Any) -> Any:
        metadata = grpc.aio.Metadata(*(details.metadata or grpc.aio.Metadata()), self.header)
        return details._replace(metadata=metadata)


# grpc.aio files an interceptor under one call type only, so one class per type.
class _BearerUnaryUnary(_BearerAuth, _UU):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_key(details), request)


class _BearerUnaryStream(_BearerAuth, _US):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_key(details), request)


class _BearerStreamStream(_BearerAuth, _SS):
    async def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._with_key(details), request_iterator)


@dataclass
class TurnResult:
    """Everything a client saw of one NPC turn."""

    turn_id: str = ""
    transcript: str = ""
    text: str = ""
    audio: list[bytes] = field(default_factory=list)
    sample_rate: int = 0
    emotion: int = 0
    end: pb.TurnEnd | None = None
    errors: list[pb.Error] = field(default_factory=list)
    events: list[pb.ServerEvent] = field(default_factory=list)
    first_audio_at: float = 0.0  # time.perf_counter() of the first NpcAudio
    # (time.perf_counter(), offset_ms) of every NpcAudio as it arrived.
    audio_arrivals: list[tuple[float, float]] = field(default_factory=list)

    @property
    def pcm(self) -> bytes:
        return b"".join(self.audio)

    @property
    def audio_ms(self) -> float:
        return 1000.0 * (len(self.pcm) // 2) / self.sample_rate if self.sample_rate else 0.0

    @property
    def max_lead_ms(self) -> float:
        """How far ahead of playback audio ever arrived: the most any chunk's start was
        ahead of the time since the first chunk (what a client must buffer)."""
        if not self.audio_arrivals:
            return 0.0
        first = self.audio_arrivals[0][0]
        return max(offset - (at - first) * 1000.0 for at, offset in self.audio_arrivals)


class Conversation:
    """One Converse stream: send ClientEvents, read ServerEvents."""

    def __init__(self, chan: grpc.aio.Channel, start: pb.SessionStart) -> None:
        self._outgoing: asyncio.Queue[pb.ClientEvent | object] = asyncio.Queue()
        self._outgoing.put_nowait(pb.ClientEvent(session_start=start))
        self.call = pb_grpc.NpcServiceStub(chan).Converse(self._requests())
        self.ready: pb.SessionReady | None = None

    async def _requests(self) -> AsyncIterator[pb.ClientEvent]:
        while (item := await self._outgoing.get()) is not _END:
            assert isinstance(item, pb.ClientEvent)
            yield item

    def send(self, event: pb.ClientEvent) -> None:
        self._outgoing.put_nowait(event)

    def send_text(self, text: str) -> None:
        self.send(pb.ClientEvent(text_input=pb.TextInput(text=text)))

    def close(self) -> None:
        """Half-close: the server finishes what is in flight, then ends the stream."""
        self._outgoing.put_nowait(_END)

    async def next(self, timeout: float = 120.0) -> pb.ServerEvent | None:
        """The next server event, or None at the end of the stream.

        A timeout cancels the whole call (grpc.aio cancels the RPC with the read).
        """
        event = await asyncio.wait_for(self.call.read(), timeout)
        if event is grpc.aio.EOF:  # type: ignore[attr-defined]
            return None
        assert isinstance(event, pb.ServerEvent)
        if event.WhichOneof("event") == "session_ready":
            self.ready = event.session_ready
        return event

    async def wait_ready(self, timeout: float = 30.0) -> pb.SessionReady:
        while self.ready is None:
            ev = await self.next(timeout)
            if ev is None:
                raise ConnectionError("stream ended before session_ready")
        return self.ready

    async def stream_audio(
        self, audio: np.ndarray, rate: int, chunk_ms: int = 40, realtime: bool = True
    ) -> float:
        """Send float32 mono audio as PCM chunks; returns perf_counter() after the last."""
        step = rate * chunk_ms // 1000
        start = time.perf_counter()
        for i, a in enumerate(range(0, audio.size, step)):
            self.send(
                pb.ClientEvent(audio_chunk=pb.AudioChunk(pcm=float_to_pcm16(audio[a : a + step])))
            )
            if realtime:
                due = start + (i + 1) * chunk_ms / 1000.0
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            else:
                await asyncio.sleep(0)
        return time.perf_counter()

    async def collect_turn(self, timeout: float = 120.0) -> TurnResult:
        """Read events until a TurnEnd (of any turn) arrives."""
        result = TurnResult()
        deadline = time.perf_counter() + timeout
        while True:
            ev = await self.next(max(0.1, deadline - time.perf_counter()))
            if ev is None:
                return result
            result.events.append(ev)
            kind = ev.WhichOneof("event")
            if kind == "user_transcript" and ev.user_transcript.is_final:
                result.transcript = ev.user_transcript.text
            elif kind == "turn_started":
                result.turn_id = ev.turn_started.turn_id
            elif kind == "npc_text":
                result.text += ev.npc_text.delta
            elif kind == "npc_audio":
                now = time.perf_counter()
                if not result.audio:
                    result.first_audio_at = now
                result.audio_arrivals.append((now, float(ev.npc_audio.offset_ms)))
                result.audio.append(ev.npc_audio.pcm)
                result.sample_rate = ev.npc_audio.sample_rate_hz
            elif kind == "emotion":
                result.emotion = ev.emotion.category
            elif kind == "error":
                result.errors.append(ev.error)
            elif kind == "turn_end":
                result.end = ev.turn_end
                return result


TIMING_FIELDS = [f.name for f in pb.TurnTimings.DESCRIPTOR.fields]


def timings_dict(t: pb.TurnTimings) -> dict[str, float]:
    return {name: float(getattr(t, name)) for name in TIMING_FIELDS}


def format_timings(t: pb.TurnTimings) -> str:
    parts = [
        ("end of speech", t.end_of_speech_ms),
        ("asr", t.asr_ms),
        ("llm first token", t.llm_first_token_ms),
        ("llm prompt read", t.llm_prompt_read_ms),
        ("first sentence", t.first_sentence_ms),
        ("tts first audio", t.tts_first_audio_ms),
        ("first audio sent at", t.first_audio_sent_at_ms),
        ("total", t.total_ms),
    ]
    return "  ".join(f"{name} {ms:.0f} ms" for name, ms in parts if ms)


async def spawn_server(
    env: dict[str, str] | None = None, timeout: float = 300.0
) -> tuple[asyncio.subprocess.Process, str]:
    """Start `npc-runtime serve` on a free port in a child process; returns it and its address."""
    proc, address, _http = await spawn_server_http(env, timeout)
    return proc, address


async def spawn_server_http(
    env: dict[str, str] | None = None, timeout: float = 300.0
) -> tuple[asyncio.subprocess.Process, str, str]:
    """spawn_server, also returning the gateway's host:port ('' when it is off)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "npc_runtime.cli",
        "serve",
        "--port",
        "0",
        # Any free port: two spawned servers (bench --compare) must not both want 8765.
        "--ws-port",
        "0",
        "--quiet",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode()
        if not line:
            code = await proc.wait()
            raise RuntimeError(
                f"the server exited during start-up (code {code}); run 'npc-runtime serve' "
                "to see why"
            )
        m = re.search(r"listening on (\S+):(\d+)", line)
        if m:
            ws = re.search(r"ws://([^/\s]+)/", line)
            return proc, f"{m.group(1)}:{m.group(2)}", ws.group(1) if ws else ""
