"""Speculative turns: transcribe and answer at a pause, send only if it was the end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import numpy as np
import pytest

from npc_runtime.client import Conversation, channel
from npc_runtime.runtime import Runtime
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb

pytestmark = pytest.mark.models

Speak = Callable[[str, int], Awaitable[np.ndarray]]
RATE = 16_000


def _silence(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, dtype=np.float32)


def _start(**kw: object) -> pb.SessionStart:
    return pb.SessionStart(character_id="jin", player_id="spec", unpaced_audio=True, **kw)  # type: ignore[arg-type]


async def _no_generation_left(runtime: Runtime, timeout: float = 10.0) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if getattr(runtime.llm, "active_generations", 0) == 0:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_an_answer_started_at_the_pause_is_sent_when_the_pause_was_the_end(
    runtime: object, server_address: str, speech: Speak
) -> None:
    assert isinstance(runtime, Runtime)
    used_before = runtime.speculations.used
    clip = await speech("Please bring me the axe from the table.", RATE)
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start())
        await conv.wait_ready()
        await conv.stream_audio(np.concatenate([clip, _silence(1200)]), RATE, realtime=True)
        result = await conv.collect_turn()
        conv.close()
    assert result.end is not None and not result.end.interrupted
    assert "axe" in result.transcript.lower()
    t = result.end.timings
    assert t.speculative and runtime.speculations.used == used_before + 1
    # Transcribed during the silence: the answer began before the end of speech plus ASR,
    # when it would have begun otherwise.
    assert t.llm_start_at_ms < t.end_of_speech_ms + t.asr_ms
    kinds = [e.WhichOneof("event") for e in result.events]
    # The transcript still comes first, then the turn, in the usual order.
    assert kinds.index("user_transcript") < kinds.index("turn_started") < kinds.index("npc_audio")
    assert kinds.index("emotion") < kinds.index("npc_text")
    audio = [e.npc_audio for e in result.events if e.WhichOneof("event") == "npc_audio"]
    assert [a.sequence for a in audio] == list(range(len(audio)))


async def test_a_speculative_answer_is_never_sent_when_the_player_kept_talking(
    runtime: object, server_address: str, speech: Speak
) -> None:
    assert isinstance(runtime, Runtime)
    first = await speech("I would like the spicy ramen.", RATE)
    second = await speech("And a cold beer, please.", RATE)
    discarded_before = runtime.speculations.discarded
    async with channel(server_address) as chan:
        # A long end-of-speech silence: the 400 ms pause is not the end.
        conv = Conversation(
            chan, _start(endpointing=pb.EndpointingOptions(end_of_speech_silence_ms=900))
        )
        await conv.wait_ready()
        stream = np.concatenate([first, _silence(400), second, _silence(1500)])
        await conv.stream_audio(stream, RATE, realtime=True)
        result = await conv.collect_turn()
        conv.close()
    assert runtime.speculations.discarded > discarded_before
    started = [e.turn_started for e in result.events if e.WhichOneof("event") == "turn_started"]
    transcripts = [
        e.user_transcript.text for e in result.events if e.WhichOneof("event") == "user_transcript"
    ]
    # One transcript and one turn, both for the whole utterance: nothing from the guess.
    assert len(started) == 1 and len(transcripts) == 1, (started, transcripts)
    assert "beer" in started[0].input_text.lower() and "ramen" in started[0].input_text.lower()
    assert (result.end is not None and not result.end.timings.speculative) or (
        "beer" in started[0].input_text.lower()
    )
    assert await _no_generation_left(runtime), "a cancelled speculation is still generating"


async def test_a_trailing_and_waits_longer_than_a_finished_question(
    runtime: object, server_address: str, speech: Speak
) -> None:
    assert isinstance(runtime, Runtime)
    done = await speech("Is the broth ready?", RATE)
    # Whisper tiny hears "ramen was" for "ramen with" on some CPUs; this line it hears whole.
    trailing = await speech("Can I get a bowl of ramen with", RATE)
    silences = []
    async with channel(server_address) as chan:
        for clip in (done, trailing):
            conv = Conversation(chan, _start(text_only=True))
            await conv.wait_ready()
            await conv.stream_audio(np.concatenate([clip, _silence(1500)]), RATE, realtime=True)
            result = await conv.collect_turn()
            conv.close()
            assert result.end is not None
            silences.append(result.end.timings.end_of_speech_ms)
    asr = runtime.settings.asr
    assert silences[1] >= asr.incomplete_silence_ms - 32  # "...with": the player goes on
    assert silences[0] < asr.incomplete_silence_ms - 100  # "...ready?": done
