"""The Converse stream over real gRPC with the real bundled models."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from npc_runtime.client import Conversation, TurnResult, channel
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb
from npc_runtime.server.gen.npc.v1 import npc_pb2_grpc as pb_grpc

pytestmark = pytest.mark.models

Speak = Callable[[str, int], Awaitable[np.ndarray]]


def _start(**kw: object) -> pb.SessionStart:
    # A new player each time: stored history (Redis) would otherwise carry one test's
    # conversation into the next and change what the model says.
    player = str(kw.pop("player_id", f"test-{uuid.uuid4().hex[:8]}"))
    return pb.SessionStart(character_id=str(kw.pop("character_id", "jin")), player_id=player, **kw)  # type: ignore[arg-type]


def _silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


async def test_voice_turn_returns_transcript_text_audio_and_ordered_timings(
    server_address: str, speech: Speak
) -> None:
    rate_in, rate_out = 16_000, 24_000
    clip = await speech("Please bring me the axe from the table.", rate_in)
    async with channel(server_address) as chan:
        conv = Conversation(
            chan,
            _start(
                input_audio=pb.AudioFormat(sample_rate_hz=rate_in, channels=1),
                output_audio=pb.AudioFormat(sample_rate_hz=rate_out, channels=1),
            ),
        )
        ready = await conv.wait_ready()
        assert ready.output_audio.sample_rate_hz == rate_out
        await conv.stream_audio(
            np.concatenate([clip, _silence(1.0, rate_in)]), rate_in, realtime=False
        )
        result = await conv.collect_turn()
        conv.close()
    kinds = [e.WhichOneof("event") for e in result.events]
    assert "speech_started" in kinds
    words = result.transcript.lower()
    assert "axe" in words and "table" in words, result.transcript
    assert result.text.strip(), "no NpcText"
    assert result.sample_rate == rate_out
    assert len(result.pcm) > rate_out  # more than half a second of speech
    audio_events = [e.npc_audio for e in result.events if e.WhichOneof("event") == "npc_audio"]
    assert [a.sequence for a in audio_events] == list(range(len(audio_events)))
    assert all(len(a.pcm) // 2 <= rate_out * 0.2 + 1 for a in audio_events), "chunks over 200 ms"
    assert result.end is not None and not result.end.interrupted
    t = result.end.timings
    assert t.end_of_speech_ms > 0 and t.asr_ms > 0 and t.llm_first_token_ms > 0
    assert 0 < t.first_text_sent_at_ms <= t.first_audio_sent_at_ms <= t.total_ms
    assert t.llm_first_token_ms <= t.first_sentence_ms
    assert 0 < t.llm_prompt_read_ms <= t.llm_first_token_ms
    assert t.tts_first_audio_ms > 0 and t.audio_ms > 0
    # Every event of the turn carries the turn id.
    assert all(a.turn_id == result.turn_id for a in audio_events)


async def test_text_turn_streams_text_and_audio(server_address: str) -> None:
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(character_id="nova"))
        await conv.wait_ready()
        conv.send_text("Which graphics card should I buy for ray tracing?")
        result = await conv.collect_turn()
        conv.close()
    assert result.text.strip()
    assert result.pcm and result.sample_rate == 22_050
    assert result.end is not None and result.end.timings.asr_ms == 0
    assert result.end.heard_text


async def test_barge_in_interrupts_the_turn_and_stops_its_audio(
    server_address: str, speech: Speak
) -> None:
    clip = await speech("Stop talking and tell me what time it is.", 16_000)
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start())
        await conv.wait_ready()
        conv.send_text("Tell me the whole story of how you opened your ramen stall.")
        first_turn = ""
        events: list[pb.ServerEvent] = []
        while True:  # wait for the first audio of turn 1, then talk over it
            ev = await conv.next()
            assert ev is not None
            events.append(ev)
            if ev.WhichOneof("event") == "turn_started":
                first_turn = ev.turn_started.turn_id
            if ev.WhichOneof("event") == "npc_audio":
                break
        await conv.stream_audio(
            np.concatenate([clip, _silence(1.0, 16_000)]), 16_000, realtime=False
        )
        after: list[pb.ServerEvent] = []
        second_end = None
        while second_end is None:
            ev = await conv.next()
            assert ev is not None
            after.append(ev)
            if ev.WhichOneof("event") == "turn_end" and ev.turn_end.turn_id != first_turn:
                second_end = ev.turn_end
        conv.close()
    kinds = [e.WhichOneof("event") for e in after]
    started = kinds.index("speech_started")
    first_end = next(
        e.turn_end
        for e in after
        if e.WhichOneof("event") == "turn_end" and e.turn_end.turn_id == first_turn
    )
    assert first_end.interrupted, "turn 1 finished before the barge-in; reply was too short"
    late_audio = [
        e
        for e in after[started:]
        if e.WhichOneof("event") == "npc_audio" and e.npc_audio.turn_id == first_turn
    ]
    assert not late_audio, "audio of the interrupted turn was sent after the player spoke"
    # History keeps only what was sent: a prefix of the full line.
    assert len(first_end.heard_text) < len(first_end.text) or not first_end.heard_text
    assert not second_end.interrupted
    second_input = [
        e.turn_started.input_text
        for e in after
        if e.WhichOneof("event") == "turn_started" and e.turn_started.turn_id != first_turn
    ]
    assert second_input and "time" in second_input[-1].lower()


async def test_first_message_must_be_session_start(server_address: str) -> None:
    async with channel(server_address) as chan:
        call = pb_grpc.NpcServiceStub(chan).Converse(
            iter([pb.ClientEvent(text_input=pb.TextInput(text="hi"))])
        )
        with pytest.raises(grpc.aio.AioRpcError) as e:
            async for _ in call:
                pass
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "session_start" in (e.value.details() or "")


async def test_unknown_character_is_not_found_and_lists_known_ids(server_address: str) -> None:
    async with channel(server_address) as chan:
        call = pb_grpc.NpcServiceStub(chan).Converse(
            iter([pb.ClientEvent(session_start=_start(character_id="bob"))])
        )
        with pytest.raises(grpc.aio.AioRpcError) as e:
            async for _ in call:
                pass
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert "jin" in (e.value.details() or "") and "nova" in (e.value.details() or "")


@pytest.mark.parametrize(
    ("fmt", "needle"),
    [(pb.AudioFormat(sample_rate_hz=96_000), "96000"), (pb.AudioFormat(channels=2), "mono")],
)
async def test_unsupported_audio_format_is_rejected(
    server_address: str, fmt: pb.AudioFormat, needle: str
) -> None:
    async with channel(server_address) as chan:
        call = pb_grpc.NpcServiceStub(chan).Converse(
            iter([pb.ClientEvent(session_start=_start(input_audio=fmt))])
        )
        with pytest.raises(grpc.aio.AioRpcError) as e:
            async for _ in call:
                pass
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in (e.value.details() or "")


async def _expect_error(conv: Conversation) -> pb.Error:
    while True:
        ev = await conv.next(30)
        assert ev is not None
        if ev.WhichOneof("event") == "error":
            return ev.error


async def test_bad_messages_get_error_events_and_the_session_survives(server_address: str) -> None:
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(text_only=True))
        await conv.wait_ready()
        conv.send(pb.ClientEvent(audio_chunk=pb.AudioChunk(pcm=b"\x01\x02\x03")))
        err = await _expect_error(conv)
        assert err.code == pb.ERROR_CODE_INVALID_ARGUMENT and "odd" in err.message
        assert err.session_alive
        conv.send_text("   ")
        err = await _expect_error(conv)
        assert "empty" in err.message
        conv.send_text("x" * 5000)
        err = await _expect_error(conv)
        assert "limit" in err.message
        conv.send(pb.ClientEvent(session_start=_start()))
        err = await _expect_error(conv)
        assert err.code == pb.ERROR_CODE_FAILED_PRECONDITION
        conv.send(pb.ClientEvent(trigger=pb.Trigger(name="looted the store!")))
        err = await _expect_error(conv)
        assert err.code == pb.ERROR_CODE_INVALID_ARGUMENT and "event name" in err.message
        bad = pb.Trigger(name="player_looted_store", parameters={"emotion": "rage"})
        conv.send(pb.ClientEvent(trigger=bad))
        err = await _expect_error(conv)
        assert err.code == pb.ERROR_CODE_INVALID_ARGUMENT and "anger" in err.message
        assert err.session_alive
        conv.send(pb.ClientEvent())
        err = await _expect_error(conv)
        assert err.code == pb.ERROR_CODE_INVALID_ARGUMENT
        # Still alive: a real turn works.
        conv.send_text("Hello, Jin.")
        result = await conv.collect_turn()
        conv.close()
    assert result.end is not None and result.text


async def test_oversized_message_fails_only_that_stream(server_address: str) -> None:
    async with channel(server_address, max_message_bytes=64 * 1024 * 1024) as chan:
        conv = Conversation(chan, _start(text_only=True))
        await conv.wait_ready()
        conv.send(pb.ClientEvent(audio_chunk=pb.AudioChunk(pcm=b"\0" * (6 * 1024 * 1024))))
        with pytest.raises(grpc.aio.AioRpcError) as e:
            while await conv.next(30) is not None:
                pass
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # The server keeps serving other sessions.
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(text_only=True))
        await conv.wait_ready()
        conv.send_text("Are you still open?")
        result = await conv.collect_turn()
        conv.close()
    assert result.end is not None


async def test_two_sessions_run_at_once(server_address: str) -> None:
    async def one(character: str, text: str) -> str:
        async with channel(server_address) as chan:
            conv = Conversation(chan, _start(character_id=character, text_only=True))
            await conv.wait_ready()
            conv.send_text(text)
            r = await conv.collect_turn()
            conv.close()
            return r.text

    a, b = await asyncio.gather(
        one("jin", "What's in the broth?"), one("nova", "Is VRAM important?")
    )
    assert a and b


async def test_health_and_character_listing(server_address: str) -> None:
    async with channel(server_address) as chan:
        health = await health_pb2_grpc.HealthStub(chan).Check(
            health_pb2.HealthCheckRequest(service="npc.v1.NpcService")
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stub = pb_grpc.NpcServiceStub(chan)
        listed = await stub.ListCharacters(pb.ListCharactersRequest())
        assert {c.id for c in listed.characters} >= {"jin", "nova"}
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.DescribeCharacter(pb.DescribeCharacterRequest(character_id="bob"))
        assert e.value.code() == grpc.StatusCode.NOT_FOUND


async def test_interrupt_keeps_only_the_played_part_in_history(server_address: str) -> None:
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(character_id="nova"))
        await conv.wait_ready()
        conv.send_text("Explain how ray tracing works on a modern graphics card.")
        turn_id = ""
        while True:
            ev = await conv.next()
            assert ev is not None
            if ev.WhichOneof("event") == "turn_started":
                turn_id = ev.turn_started.turn_id
            if ev.WhichOneof("event") == "npc_audio":
                break
        # The player heard 300 ms, then clicked away.
        conv.send(
            pb.ClientEvent(playback_progress=pb.PlaybackProgress(turn_id=turn_id, played_ms=300))
        )
        conv.send(pb.ClientEvent(interrupt=pb.Interrupt(turn_id=turn_id)))
        result = await conv.collect_turn()
        conv.close()
    assert result.end is not None and result.end.turn_id == turn_id
    assert result.end.interrupted
    heard, full = result.end.heard_text.split(), result.end.text.split()
    assert len(heard) < len(full)
    assert full[: len(heard)] == heard


async def test_reflection_lists_the_services(server_address: str) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async with channel(server_address) as chan:
        stub = reflection_pb2_grpc.ServerReflectionStub(chan)
        call = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = []
        async for resp in call:
            names = [s.name for s in resp.list_services_response.service]
            break
    assert "npc.v1.NpcService" in names and "grpc.health.v1.Health" in names


async def test_audio_leaves_at_playback_pace_unless_the_client_opts_out(
    server_address: str,
) -> None:
    lead, slack = 500.0, 250.0  # tts.pacing_lead_ms; scheduling jitter on a busy box

    async def long_turn(unpaced: bool) -> TurnResult:
        # The sampled reply's length varies; pacing only shows on one longer than the lead.
        async with channel(server_address) as chan:
            conv = Conversation(chan, _start(character_id="nova", unpaced_audio=unpaced))
            await conv.wait_ready()
            for _ in range(3):
                conv.send_text("Tell me about your favourite graphics card and why you like it.")
                result = await conv.collect_turn()
                assert result.end is not None and result.first_audio_at
                if result.audio_ms > 1500:
                    break
            conv.close()
        assert result.audio_ms > 1500, "three replies in a row were too short to show pacing"
        return result

    paced = await long_turn(unpaced=False)
    # Paced: no chunk arrives more than the lead ahead of playback.
    assert paced.max_lead_ms <= lead + slack
    unpaced = await long_turn(unpaced=True)
    # Unpaced: chunks arrive as soon as they are made, well ahead of playback.
    assert unpaced.max_lead_ms > lead + slack


async def test_openai_compatible_backend_serves_a_turn(runtime: object) -> None:
    """The same turn through the HTTP client, against a real OpenAI-compatible server
    (the embedded engine's own HTTP endpoint stands in for vLLM)."""
    import dataclasses

    from npc_runtime.llm.embedded import EmbeddedLLM
    from npc_runtime.llm.openai_compat import OpenAICompatLLM
    from npc_runtime.runtime import Runtime
    from npc_runtime.server.service import start_server

    assert isinstance(runtime, Runtime) and isinstance(runtime.llm, EmbeddedLLM)
    http = OpenAICompatLLM(runtime.llm.http_address + "/v1", "smollm2")
    server, port = await start_server(dataclasses.replace(runtime, llm=http), "127.0.0.1", 0)
    try:
        async with channel(f"127.0.0.1:{port}") as chan:
            conv = Conversation(chan, _start(text_only=True))
            await conv.wait_ready()
            conv.send_text("What's good tonight?")
            result = await conv.collect_turn()
            conv.close()
    finally:
        await server.stop(1)
        await http.aclose()
    assert not result.errors
    assert result.end is not None and result.text.strip()
    assert result.end.timings.llm_first_token_ms > 0


async def test_greeting_is_spoken_first_when_asked(server_address: str) -> None:
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(greet=True, unpaced_audio=True))
        await conv.wait_ready()
        result = await conv.collect_turn()
        conv.close()
    started = next(e.turn_started for e in result.events if e.WhichOneof("event") == "turn_started")
    assert started.cause == pb.TURN_CAUSE_GREETING
    assert result.text.startswith("Rain's coming down hard tonight")
    assert result.pcm


async def test_push_to_talk_ends_the_utterance_on_audio_end(
    server_address: str, speech: Speak
) -> None:
    clip = await speech("How long have you been cooking here?", 48_000)
    async with channel(server_address) as chan:
        conv = Conversation(
            chan,
            _start(
                input_audio=pb.AudioFormat(sample_rate_hz=48_000, channels=1),
                endpointing=pb.EndpointingOptions(push_to_talk_only=True),
                text_only=True,
            ),
        )
        await conv.wait_ready()
        # Long trailing silence: with VAD this would have ended the utterance long ago.
        await conv.stream_audio(
            np.concatenate([clip, _silence(2.0, 48_000)]), 48_000, realtime=False
        )
        await asyncio.sleep(0.5)
        conv.send(pb.ClientEvent(audio_end=pb.AudioEnd()))
        result = await conv.collect_turn()
        conv.close()
    assert "cooking" in result.transcript.lower()
    transcript = next(
        e.user_transcript for e in result.events if e.WhichOneof("event") == "user_transcript"
    )
    # The whole stream, trailing silence included, was one utterance: no VAD cut.
    assert transcript.audio_ms >= 1000 * clip.size / 48_000 + 1500
    assert result.end is not None and result.text
