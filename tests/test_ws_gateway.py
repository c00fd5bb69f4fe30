"""The WebSocket gateway: Converse over ws://…/v1/converse in binary protobuf and proto3
JSON frames, with the real bundled models, as a browser or WebGL client would use it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import numpy as np
import pytest
from google.protobuf import json_format

from npc_runtime.audio import float_to_pcm16
from npc_runtime.server import ws_frames
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb
from npc_runtime.server.ws_gateway import Gateway, close_reason, start_gateway

Speak = Callable[[str, int], Awaitable[np.ndarray]]
TURN_TIMEOUT_S = 180.0


class WsConversation:
    """A test client for one gateway socket: sends ClientEvents in one frame format,
    reads ServerEvents strictly (an unknown JSON field fails the test)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, binary: bool) -> None:
        self.ws = ws
        self.binary = binary
        self.frame_types: set[aiohttp.WSMsgType] = set()
        self.close_code: int | None = None
        self.close_reason = ""

    def encode(self, event: pb.ClientEvent) -> bytes | str:
        return event.SerializeToString() if self.binary else json_format.MessageToJson(event)

    async def send(self, event: pb.ClientEvent) -> None:
        data = self.encode(event)
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def send_text(self, text: str) -> None:
        await self.send(pb.ClientEvent(text_input=pb.TextInput(text=text)))

    async def next(self, timeout: float = TURN_TIMEOUT_S) -> pb.ServerEvent | None:
        """The next event, or None once the server closed the socket."""
        msg = await self.ws.receive(timeout)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            self.close_code = self.ws.close_code
            self.close_reason = msg.extra or ""
            return None
        self.frame_types.add(msg.type)
        if msg.type is aiohttp.WSMsgType.BINARY:
            return pb.ServerEvent.FromString(msg.data)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        return json_format.Parse(msg.data, pb.ServerEvent())

    async def ready(self) -> pb.SessionReady:
        ev = await self.next(60)
        assert ev is not None and ev.HasField("session_ready"), ev
        return ev.session_ready

    async def until(self, kind: str, timeout: float = TURN_TIMEOUT_S) -> list[pb.ServerEvent]:
        """Events up to and including the first of `kind`."""
        events: list[pb.ServerEvent] = []
        deadline = time.monotonic() + timeout
        while True:
            ev = await self.next(max(0.1, deadline - time.monotonic()))
            assert ev is not None, f"socket closed before {kind}: {self.close_code}"
            events.append(ev)
            if ev.WhichOneof("event") == kind:
                return events


async def _connect(
    http: aiohttp.ClientSession, ws_address: str, binary: bool, **start: object
) -> WsConversation:
    ws = await http.ws_connect(f"ws://{ws_address}/v1/converse", max_msg_size=0)
    conv = WsConversation(ws, binary)
    start.setdefault("character_id", "jin")
    start.setdefault("player_id", "")  # anonymous: no memory between tests
    await conv.send(pb.ClientEvent(session_start=pb.SessionStart(**start)))  # type: ignore[arg-type]
    return conv


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _kinds(events: list[pb.ServerEvent]) -> list[str]:
    return [str(e.WhichOneof("event")) for e in events]


async def _sessions_drop_to_zero(gateway: Gateway, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while gateway.driver.sessions or gateway.connections:
        assert time.monotonic() < deadline, f"sessions left open: {list(gateway.driver.sessions)}"
        await asyncio.sleep(0.05)


# --- wire format, no models ------------------------------------------------------


def test_json_frames_are_proto3_canonical_json() -> None:
    ev = pb.ServerEvent(npc_audio=pb.NpcAudio(turn_id="t1", sequence=2, pcm=b"\x01\x00\xff\x7f"))
    text = ws_frames.encode(ev, ws_frames.FrameFormat.JSON)
    assert isinstance(text, str)
    assert json.loads(text) == {
        "npcAudio": {"turnId": "t1", "sequence": 2, "pcm": "AQD/fw=="}  # base64, camelCase
    }
    err = pb.ServerEvent(error=pb.Error(code=pb.ERROR_CODE_NOT_FOUND, message="x"))
    assert '"code":"ERROR_CODE_NOT_FOUND"' in str(ws_frames.encode(err, ws_frames.FrameFormat.JSON))
    # Clients may send either JSON name form, and enum names or numbers.
    for form in ('{"textInput":{"text":"hi"}}', '{"text_input":{"text":"hi"}}'):
        parsed = ws_frames.parse_json(form)
        assert isinstance(parsed, pb.ClientEvent) and parsed.text_input.text == "hi"


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        (b"\xff\xff\xff\xff", "not a serialized npc.v1.ClientEvent"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not an object"),
        ('{"textInput": {"txt": "hi"}}', 'no field named "txt"'),
    ],
)
def test_malformed_frames_become_invalid_argument(frame: bytes | str, needle: str) -> None:
    from npc_runtime.events import ErrorCode
    from npc_runtime.server.codec import DecodeError

    parsed = (
        ws_frames.parse_binary(frame) if isinstance(frame, bytes) else ws_frames.parse_json(frame)
    )
    assert isinstance(parsed, DecodeError)
    assert parsed.code is ErrorCode.INVALID_ARGUMENT and needle in str(parsed)


def test_close_reasons_fit_a_close_frame() -> None:
    assert close_reason("short") == b"short"
    long = close_reason("é" * 200)
    assert len(long) <= 123
    long.decode()  # still valid UTF-8


# --- live gateway ------------------------------------------------------------------


@pytest.mark.models
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
async def test_text_turn_streams_every_event_in_the_clients_frame_format(
    http: aiohttp.ClientSession, ws_address: str, binary: bool
) -> None:
    conv = await _connect(
        http, ws_address, binary, character_id="nova", visemes=True, unpaced_audio=True
    )
    ready = await conv.ready()
    assert ready.session_id and ready.output_audio.sample_rate_hz == 22_050
    await conv.send_text("Which graphics card should I buy for ray tracing?")
    events = await conv.until("turn_end")
    await conv.ws.close()
    kinds = _kinds(events)
    for needed in ("turn_started", "emotion", "npc_text", "npc_audio", "turn_end"):
        assert needed in kinds, kinds
    # The face changes before the first word or sound of the turn.
    first_media = min(kinds.index("npc_text"), kinds.index("npc_audio"))
    assert kinds.index("turn_started") < kinds.index("emotion") < first_media
    turn_id = events[kinds.index("turn_started")].turn_started.turn_id
    audio = [e.npc_audio for e in events if e.HasField("npc_audio")]
    assert [a.sequence for a in audio] == list(range(len(audio)))
    assert all(a.turn_id == turn_id and len(a.pcm) % 2 == 0 for a in audio)
    assert any(a.visemes for a in audio)
    text = "".join(e.npc_text.delta for e in events if e.HasField("npc_text"))
    end = events[-1].turn_end
    assert text.strip() and end.turn_id == turn_id and not end.interrupted
    expected = aiohttp.WSMsgType.BINARY if binary else aiohttp.WSMsgType.TEXT
    assert conv.frame_types == {expected}


@pytest.mark.models
async def test_voice_turn_over_json_frames_with_base64_audio(
    http: aiohttp.ClientSession, ws_address: str, speech: Speak
) -> None:
    rate = 16_000
    clip = await speech("Please bring me the axe from the table.", rate)
    audio = np.concatenate([clip, np.zeros(rate, dtype=np.float32)])
    conv = await _connect(
        http,
        ws_address,
        binary=False,
        input_audio=pb.AudioFormat(sample_rate_hz=rate, channels=1),
        text_only=True,
    )
    await conv.ready()
    step = rate * 40 // 1000
    for i in range(0, audio.size, step):
        pcm = float_to_pcm16(audio[i : i + step])
        await conv.send(pb.ClientEvent(audio_chunk=pb.AudioChunk(pcm=pcm)))
    events = await conv.until("turn_end")
    await conv.ws.close()
    kinds = _kinds(events)
    assert "speech_started" in kinds
    transcript = next(e.user_transcript for e in events if e.HasField("user_transcript"))
    words = transcript.text.lower()
    assert transcript.is_final and "axe" in words and "table" in words, transcript.text
    started = next(e.turn_started for e in events if e.HasField("turn_started"))
    assert started.cause == pb.TURN_CAUSE_SPEECH
    assert "npc_text" in kinds and "npc_audio" not in kinds  # text_only
    assert events[-1].turn_end.timings.asr_ms > 0


@pytest.mark.models
async def test_broken_frames_get_errors_and_the_socket_stays_usable(
    http: aiohttp.ClientSession, ws_address: str
) -> None:
    conv = await _connect(http, ws_address, binary=True, text_only=True)
    await conv.ready()
    broken: list[bytes | str] = [
        b"\xff\xff\xff\xff garbage",
        "{this is not json",
        '{"textInput": {"text": "hi", "volume": 11}}',
        '{"launchMissiles": {}}',
    ]
    for frame in broken:
        if isinstance(frame, bytes):
            await conv.ws.send_bytes(frame)
        else:
            await conv.ws.send_str(frame)
        err = (await conv.until("error", 30))[-1].error
        assert err.code == pb.ERROR_CODE_INVALID_ARGUMENT, err
        assert err.session_alive, err
        assert "ClientEvent" in err.message, err.message
    await conv.send_text("Hello, Jin. Still open?")
    events = await conv.until("turn_end")
    await conv.ws.close()
    assert "npc_text" in _kinds(events)
    assert not events[-1].turn_end.interrupted
    # Answers stay in the first frame's format, whatever the later frames were.
    assert conv.frame_types == {aiohttp.WSMsgType.BINARY}


@pytest.mark.models
@pytest.mark.parametrize(
    ("first", "code", "close", "needle"),
    [
        (
            pb.ClientEvent(text_input=pb.TextInput(text="hi")),
            pb.ERROR_CODE_INVALID_ARGUMENT,
            4003,
            "session_start",
        ),
        (
            pb.ClientEvent(session_start=pb.SessionStart(character_id="bob")),
            pb.ERROR_CODE_NOT_FOUND,
            4005,
            "jin",
        ),
        (
            pb.ClientEvent(session_start=pb.SessionStart(character_id="jin")),
            None,
            None,
            None,
        ),
        ("{oops", pb.ERROR_CODE_INVALID_ARGUMENT, 4003, "JSON"),
    ],
    ids=["not-session-start", "unknown-character", "valid", "malformed"],
)
async def test_a_bad_first_frame_gets_an_error_and_a_close_code(
    http: aiohttp.ClientSession,
    ws_address: str,
    first: pb.ClientEvent | str,
    code: int | None,
    close: int | None,
    needle: str | None,
) -> None:
    ws = await http.ws_connect(f"ws://{ws_address}/v1/converse")
    conv = WsConversation(ws, binary=False)
    if isinstance(first, str):
        await ws.send_str(first)
    else:
        await conv.send(first)
    ev = await conv.next(30)
    if code is None:  # the control case: a good SessionStart opens a session
        assert ev is not None and ev.HasField("session_ready")
        await ws.close()
        return
    assert ev is not None and ev.HasField("error"), ev
    assert ev.error.code == code and not ev.error.session_alive
    assert needle is not None and needle in ev.error.message
    assert await conv.next(10) is None
    assert conv.close_code == close
    assert needle in conv.close_reason or len(ev.error.message.encode()) > 123


@pytest.mark.models
async def test_an_oversized_frame_ends_only_that_socket(
    http: aiohttp.ClientSession, ws_address: str
) -> None:
    conv = await _connect(http, ws_address, binary=True, text_only=True)
    await conv.ready()
    # The server may hang up before the client has written the whole frame.
    with contextlib.suppress(ConnectionError):
        await conv.send(pb.ClientEvent(audio_chunk=pb.AudioChunk(pcm=b"\0" * (5 * 1024 * 1024))))
    # The server stops reading at the frame header, so the unread rest can make the
    # kernel reset the connection: the error and the 1009 close may be lost with it.
    ev = await conv.next(30)
    if ev is not None:
        assert ev.error.code == pb.ERROR_CODE_RESOURCE_EXHAUSTED, ev
        assert not ev.error.session_alive and "max_message_bytes" in ev.error.message
        assert await conv.next(10) is None
    assert conv.close_code in (1009, 1006)
    # Another socket is served as usual.
    again = await _connect(http, ws_address, binary=True, text_only=True)
    await again.ready()
    await again.ws.close()


@pytest.mark.models
async def test_abrupt_disconnect_mid_turn_aborts_the_session_and_the_server_keeps_serving(
    http: aiohttp.ClientSession, ws_address: str, ws_gateway: Gateway
) -> None:
    await _sessions_drop_to_zero(ws_gateway)
    before = asyncio.all_tasks()
    conv = await _connect(http, ws_address, binary=True, character_id="nova")  # paced audio
    await conv.ready()
    await conv.send_text("Explain how ray tracing works on a modern graphics card, in detail.")
    await conv.until("npc_audio")
    assert len(ws_gateway.driver.sessions) == 1
    # The process dies: no close frame, the kernel just ends the TCP connection.
    sock = conv.ws.get_extra_info("socket")
    sock.shutdown(socket.SHUT_RDWR)
    await _sessions_drop_to_zero(ws_gateway)
    deadline = time.monotonic() + 10
    while leaked := [t for t in asyncio.all_tasks() - before if not t.done()]:
        leaked = [t for t in leaked if t is not asyncio.current_task()]
        if not leaked:
            break
        assert time.monotonic() < deadline, f"tasks left running: {leaked}"
        await asyncio.sleep(0.05)
    # A new socket gets a whole turn.
    fresh = await _connect(http, ws_address, binary=False, text_only=True)
    await fresh.ready()
    await fresh.send_text("Is VRAM important?")
    events = await fresh.until("turn_end")
    await fresh.ws.close()
    assert "npc_text" in _kinds(events)
    await _sessions_drop_to_zero(ws_gateway)


@pytest.mark.models
async def test_session_limit_is_enforced_on_the_socket(
    http: aiohttp.ClientSession, ws_address: str, ws_gateway: Gateway
) -> None:
    await _sessions_drop_to_zero(ws_gateway)
    settings = ws_gateway.driver.runtime.settings.server
    saved, settings.max_sessions = settings.max_sessions, 1
    try:
        first = await _connect(http, ws_address, binary=True, text_only=True)
        await first.ready()
        second = await _connect(http, ws_address, binary=True, text_only=True)
        ev = await second.next(30)
        assert ev is not None and ev.error.code == pb.ERROR_CODE_RESOURCE_EXHAUSTED
        assert "limit of 1 sessions" in ev.error.message
        assert await second.next(10) is None and second.close_code == 4008
        await first.ws.close()
    finally:
        settings.max_sessions = saved
    await _sessions_drop_to_zero(ws_gateway)


@pytest.mark.models
async def test_health_check_character_listing_and_plain_http_on_the_socket_path(
    http: aiohttp.ClientSession, ws_address: str
) -> None:
    async with http.get(f"http://{ws_address}/healthz") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "serving" and "jin" in body["characters"]
    async with http.get(f"http://{ws_address}/v1/characters") as resp:
        listing = json_format.Parse(await resp.text(), pb.ListCharactersResponse())
    assert {c.id for c in listing.characters} >= {"jin", "nova"}
    async with http.get(f"http://{ws_address}/v1/converse") as resp:
        assert resp.status == 426
        assert "WebSocket" in await resp.text()


@pytest.mark.models
async def test_shutdown_gives_sessions_a_grace_period_then_closes_them(
    http: aiohttp.ClientSession, runtime: object
) -> None:
    from npc_runtime.runtime import Runtime

    assert isinstance(runtime, Runtime)
    gateway, port = await start_gateway(runtime, "127.0.0.1", 0)
    conv = await _connect(http, f"127.0.0.1:{port}", binary=False, text_only=True)
    await conv.ready()
    started = time.monotonic()
    stopping = asyncio.create_task(gateway.stop(0.5))
    ev = await conv.next(30)
    assert time.monotonic() - started >= 0.4, "closed before the grace period"
    assert ev is not None and ev.error.code == pb.ERROR_CODE_UNAVAILABLE, ev
    assert not ev.error.session_alive
    assert await conv.next(10) is None and conv.close_code == 1001
    await stopping
    assert not gateway.driver.sessions
    with pytest.raises(aiohttp.ClientConnectionError):
        await http.ws_connect(f"ws://127.0.0.1:{port}/v1/converse")


@pytest.mark.models
async def test_serve_prints_both_addresses_and_the_gateway_answers() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "npc_runtime.cli",
        "serve",
        "--port",
        "0",
        "--ws-port",
        "0",
        "--quiet",
        stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 300)).decode()
        m = re.search(
            r"listening on 127\.0\.0\.1:\d+ \(gRPC\) and ws://([\d.:]+)/v1/converse", line
        )
        assert m, line
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://{m.group(1)}/healthz") as resp,
        ):
            assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
