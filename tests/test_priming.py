"""Prompt priming: the session's next prompt prefix reaches the engine's cache before
the player's words do, so a turn reads only its recall and what the player said."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from npc_runtime.characters import load_character
from npc_runtime.client import Conversation, channel
from npc_runtime.emotion import Stimulus
from npc_runtime.llm.base import GenerationRequest, LLMBackend
from npc_runtime.llm.embedded import EmbeddedLLM
from npc_runtime.llm.primer import InFlight, PrimeStats, PromptPrimer
from npc_runtime.llm.prompt import Exchange
from npc_runtime.llm.scripted import ScriptedLLM, canned_reply
from npc_runtime.runtime import Runtime
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb
from npc_runtime.tts.piper_tts import VoiceSettings
from npc_runtime.turn import TurnConfig

ROOT = Path(__file__).resolve().parent.parent


class _CountingLLM(ScriptedLLM):
    """Records warmups (primings); each takes `delay_s`."""

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__(canned_reply)
        self.primed: list[GenerationRequest] = []
        self.prime_delay_s = delay_s

    async def warmup(self, request: GenerationRequest) -> None:
        await asyncio.sleep(self.prime_delay_s)
        self.primed.append(request)


def _config(llm: LLMBackend) -> TurnConfig:
    jin = load_character(ROOT / "characters" / "jin" / "character.toml")
    return TurnConfig(
        character=jin, llm=llm, synthesizer=None, voice=VoiceSettings(), output_rate=16_000
    )


def _voice_start(player: str) -> pb.SessionStart:
    """A session with Jin that hears 16 kHz speech and sends its audio unpaced."""
    return pb.SessionStart(
        character_id="jin",
        player_id=player,
        unpaced_audio=True,
        input_audio=pb.AudioFormat(sample_rate_hz=16_000, channels=1),
    )


HISTORY = [
    Exchange("Hello there, I just got off the night tram.", "Welcome in. Sit anywhere."),
    Exchange("What is good tonight?", "The tonkotsu. The broth went on at dawn.", "joy"),
]


async def test_an_unchanged_prefix_is_primed_once_and_a_changed_one_again() -> None:
    llm = _CountingLLM(delay_s=0.05)
    cfg = _config(llm)
    primer = PromptPrimer(llm)
    assert primer.prime(cfg.request(HISTORY[:1], ""))
    await asyncio.sleep(0.01)  # the engine is reading it
    assert not primer.prime(cfg.request(HISTORY[:1], ""))  # nothing new to read
    assert primer.prime(cfg.request(HISTORY, ""))  # a turn ended: one more exchange
    await primer.drained()
    assert len(llm.primed) == 2
    assert primer.stats.sent == 2 and primer.stats.skipped == 1
    # A priming generates one token and carries no grammar.
    assert all(r.max_tokens == 1 and r.json_schema is None for r in llm.primed)


async def test_only_the_newest_waiting_priming_is_sent() -> None:
    llm = _CountingLLM(delay_s=0.1)
    cfg = _config(llm)
    primer = PromptPrimer(llm)
    primer.prime(cfg.request(HISTORY, "", recall="You remember: a"))
    await asyncio.sleep(0.01)
    primer.prime(cfg.request(HISTORY, "", recall="You remember: ab"))  # stale before it is sent
    primer.prime(cfg.request(HISTORY, "", recall="You remember: abc"))
    await primer.drained()
    recalls = [r.messages[-1].content for r in llm.primed]
    assert len(recalls) == 2 and "abc" in recalls[-1] and "ab\n" not in recalls[-1]


async def test_two_sessions_priming_the_same_prompt_send_it_once() -> None:
    # A player's closing session and their next one both prime the conversation so far.
    llm = _CountingLLM(delay_s=0.2)
    stats, in_flight = PrimeStats(), InFlight()
    closing = PromptPrimer(llm, stats, in_flight)
    opening = PromptPrimer(llm, stats, in_flight)
    closing.prime(_config(llm).request(HISTORY, ""))
    await asyncio.sleep(0.01)
    opening.prime(_config(llm).request(HISTORY, ""))
    # The second waits for the first, so a turn of the new session waits for it too.
    waited = await opening.settle(timeout_s=5.0)
    assert 100 < waited < 2000
    assert len(llm.primed) == 1 and stats.sent == 1 and stats.skipped == 1
    assert len(in_flight) == 0
    # A different prompt is sent beside it, not held back.
    opening.prime(_config(llm).request(HISTORY[:1], ""))
    closing.prime(_config(llm).request(HISTORY, "", recall="You remember: pork."))
    await asyncio.gather(opening.drained(), closing.drained())
    assert len(llm.primed) == 3


async def test_a_turn_waits_for_the_priming_in_flight_and_not_past_it() -> None:
    llm = _CountingLLM(delay_s=0.3)
    primer = PromptPrimer(llm)
    primer.prime(_config(llm).request(HISTORY, ""))
    waited = await primer.settle(timeout_s=5.0)
    assert 150 < waited < 2000
    assert await primer.settle() == 0.0  # nothing in flight: no wait at all
    primer.prime(_config(llm).request(HISTORY[:1], ""))
    assert await primer.settle(timeout_s=0.05) < 250  # a stuck engine costs at most the timeout
    await primer.aclose()


async def test_the_primed_prompt_is_the_turns_prompt_up_to_the_recall_and_the_words() -> None:
    cfg = _config(_CountingLLM())
    scene = "You are in [shop] Jin's Ramen. You see: [pot] a stock pot."
    primed = cfg.request(HISTORY, "", scene).messages
    turn = cfg.request(HISTORY, "And the shoyu?", scene, "You remember: the player likes pork.")
    real = turn.messages
    # Same system prompt, examples and history; the last message starts the same way.
    assert primed[:-1] == real[:-1]
    head = primed[-1].content.removesuffix("Player: ")
    assert head and real[-1].content.startswith(head)
    assert real[-1].content.endswith("Player: And the shoyu?")


@pytest.mark.models
async def test_a_primed_prefix_is_read_from_the_engines_cache(runtime: object) -> None:
    assert isinstance(runtime, Runtime) and isinstance(runtime.llm, EmbeddedLLM)
    cfg = _config(runtime.llm)
    story = [Exchange(f"Tell me about bowl number {uuid.uuid4().hex[:6]}.", "It was fine.")]
    primer = PromptPrimer(runtime.llm)
    primer.prime(cfg.request(HISTORY + story, ""))
    await primer.settle(timeout_s=30)
    prefix = cfg.request(HISTORY + story, "")
    async with runtime.llm.stream(prefix) as probe:  # how many tokens the primed prompt has
        async for _ in probe:
            break
        primed_tokens = probe.stats.prompt_tokens
    turn = cfg.request(HISTORY + story, "And the shoyu?", recall="You know: shoyu is soy.")
    async with runtime.llm.stream(turn) as s:
        async for _ in s:
            pass
    # Everything but the primed prompt's closing tags came from the cache.
    assert s.stats.cached_tokens >= primed_tokens - 8, (s.stats, primed_tokens)
    assert s.stats.prompt_tokens - s.stats.cached_tokens < 40


@pytest.mark.models
async def test_a_returning_players_next_turn_starts_from_the_primed_history(
    runtime: object, server_address: str
) -> None:
    assert isinstance(runtime, Runtime)
    player = f"prime-{uuid.uuid4().hex[:6]}"
    async with channel(server_address) as chan:
        conv = Conversation(
            chan, pb.SessionStart(character_id="jin", player_id=player, text_only=True)
        )
        await conv.wait_ready()
        sent = runtime.primes.sent
        conv.send_text("Hi Jin, I am new in the city. What do you cook?")
        first = await conv.collect_turn()
        assert first.end is not None and not first.errors
        # The turn's end primes the next prompt: the history now holds this exchange.
        for _ in range(300):
            if runtime.primes.sent > sent:
                break
            await asyncio.sleep(0.05)
        assert runtime.primes.sent > sent
        conv.send_text("Sounds good. One bowl, please.")
        second = await conv.collect_turn()
        conv.close()
    assert second.end is not None and not second.errors
    t1, t2 = first.end.timings, second.end.timings
    # Turn 1 found only the character's fixed prompt cached; turn 2 also the exchange
    # before it, which was read while the player was "typing".
    assert t2.llm_cached_tokens >= t1.llm_cached_tokens + 20, (t1, t2)


@pytest.mark.models
async def test_a_fading_mood_is_primed_again_when_its_line_in_the_prompt_changes(
    runtime: object, server_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(runtime, Runtime)
    # Watch what reaches the real engine as primings (other tests' sessions prime too).
    primed: list[tuple[float, str]] = []
    warmup = runtime.llm.warmup

    async def watched(request: GenerationRequest) -> None:
        await warmup(request)
        primed.append((time.time(), request.messages[-1].content))

    monkeypatch.setattr(runtime.llm, "warmup", watched)
    jin = runtime.characters.get("jin")
    player = f"fade-{uuid.uuid4().hex[:6]}"
    # "(Right now you feel very happy.)" in the prompt for ~5 s (0.78 fading to 0.75 with
    # a 90 s half-life), then "happy": the line before the player's words changes.
    felt_at = time.time()
    runtime.emotions.feel(jin, player, Stimulus("joy", 0.78), now=felt_at)
    changes_at = felt_at + jin.emotion.half_life_s * math.log2(0.78 / 0.75)
    async with channel(server_address) as chan:
        conv = Conversation(
            chan, pb.SessionStart(character_id="jin", player_id=player, text_only=True)
        )
        await conv.wait_ready()
        await asyncio.sleep(changes_at + 2.0 - time.time())
        conv.close()
    very = [t for t, text in primed if "(Right now you feel very happy.)" in text]
    plain = [t for t, text in primed if "(Right now you feel happy.)" in text]
    assert very and max(very) < changes_at, primed  # when the session opened
    assert len(plain) == 1 and changes_at <= plain[0] < changes_at + 2.0, primed


@pytest.mark.models
async def test_recall_made_while_the_player_spoke_is_used_and_its_prompt_was_read_ahead(
    runtime: object, server_address: str, speech: object
) -> None:
    assert isinstance(runtime, Runtime) and callable(speech)
    line = "I would like a big bowl of your spicy ramen with extra pork and two eggs, please."
    clip = await speech(line, 16_000)
    before = runtime.speculations.early_recalls
    player = f"ahead-{uuid.uuid4().hex[:6]}"
    async with channel(server_address) as chan:
        conv = Conversation(
            chan,
            _voice_start(player),
        )
        await conv.wait_ready()
        silence = np.zeros(16_000, dtype=np.float32)
        await conv.stream_audio(np.concatenate([clip, silence]), 16_000, realtime=True)
        result = await conv.collect_turn()
        conv.close()
    assert result.end is not None and not result.errors, result.errors
    assert "ramen" in result.transcript.lower()
    t = result.end.timings
    assert runtime.speculations.early_recalls > before
    assert t.recall_ms == 0.0  # recalled during the speech, off the turn's path
    # Read ahead: only the player's own words (and the chat template's tags) were new.
    assert t.llm_prompt_tokens - t.llm_cached_tokens < 45, t


@pytest.mark.models
async def test_a_mood_that_fades_while_the_player_speaks_leaves_the_turns_prompt_as_primed(
    runtime: object, server_address: str, speech: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(runtime, Runtime) and callable(speech)
    line = "I would like a big bowl of your spicy ramen with extra pork and two eggs, please."
    clip = await speech(line, 16_000)
    # What reaches the real engine: primings, and turns (a reply schema) with their time.
    primed: list[tuple[float, str]] = []
    asked: list[tuple[float, str]] = []
    warmup, stream = runtime.llm.warmup, runtime.llm.stream

    async def watched_warmup(request: GenerationRequest) -> None:
        primed.append((time.time(), request.messages[-1].content))
        await warmup(request)

    def watched_stream(request: GenerationRequest) -> object:
        if request.json_schema is not None:
            asked.append((time.time(), request.messages[-1].content))
        return stream(request)

    monkeypatch.setattr(runtime.llm, "warmup", watched_warmup)
    monkeypatch.setattr(runtime.llm, "stream", watched_stream)
    jin = runtime.characters.get("jin")
    player = f"fading-{uuid.uuid4().hex[:6]}"
    very, plain = "(Right now you feel very happy.)", "(Right now you feel happy.)"
    async with channel(server_address) as chan:
        conv = Conversation(
            chan,
            _voice_start(player),
        )
        await conv.wait_ready()
        # "very happy" until 2.5 s into the ~4.5 s line (a 90 s half-life), "happy" after.
        felt_at = time.time()
        runtime.emotions.feel(jin, player, Stimulus("joy", 0.75 * 2 ** (2.5 / 90)), now=felt_at)
        changes_at = felt_at + 2.5
        primed.clear()
        silence = np.zeros(16_000, dtype=np.float32)
        await conv.stream_audio(np.concatenate([clip, silence]), 16_000, realtime=True)
        result = await conv.collect_turn()
        conv.close()
    assert result.end is not None and not result.errors, result.errors
    turns = [(at, text) for at, text in asked if "ramen" in text.lower()]
    assert len(turns) == 1, asked
    asked_at, prompt = turns[0]
    assert asked_at > changes_at + 0.5  # the line read "happy" by then...
    assert very in prompt and plain not in prompt, prompt  # ...but the turn kept the primed one
    # No priming of the line as it faded while the player spoke: the one primed with the
    # recall is the turn's. (Once the turn has run, the next prompts read it as it is.)
    during = [text for at, text in primed if at < asked_at and (very in text or plain in text)]
    assert during and all(very in text for text in during), during
    t = result.end.timings
    assert t.recall_ms == 0.0
    assert t.llm_prompt_tokens - t.llm_cached_tokens < 45, t


def test_a_resumed_conversation_has_the_history_the_session_that_lived_it_had() -> None:
    from npc_runtime.memory import history
    from npc_runtime.session import exchanges_from_lines

    raw = [
        history.append_commands("jin", "p", "player", "Hi Jin.", 200)[0][2],
        history.append_commands("jin", "p", "npc", "Sit, kid.", 200, "joy")[0][2],
        history.append_commands("jin", "p", "player", "What's good?", 200)[0][2],
    ]
    # The emotion is part of the rendered reply, so it must come back; a reply cut off
    # before a word was heard comes back as the session kept it ("…").
    assert exchanges_from_lines(history.parse_lines([str(r) for r in raw])) == [
        Exchange("Hi Jin.", "Sit, kid.", "joy"),
        Exchange("What's good?", "…"),
    ]


class _BusyLLM(ScriptedLLM):
    """A slow scripted engine whose other generations the test turns on and off."""

    def __init__(self) -> None:
        super().__init__(lambda _r: "I think the player likes spicy food a lot.", 4, 0.02)
        self.others = 0
        self.streams: list[object] = []
        self.started = asyncio.Event()

    def stream(self, request: GenerationRequest):  # type: ignore[no-untyped-def]
        s = super().stream(request)
        self.streams.append(s)
        self.started.set()
        return s

    @property
    def active_generations(self) -> int:
        return self.others + sum(1 for s in self.streams if not s.done)  # type: ignore[attr-defined]


@pytest.mark.models
async def test_a_background_reflection_gives_way_to_a_conversation(runtime: object) -> None:
    import dataclasses

    assert isinstance(runtime, Runtime)
    llm = _BusyLLM()
    rt = dataclasses.replace(runtime, llm=llm)
    task = asyncio.create_task(rt.reflect("memories"))
    await llm.started.wait()
    llm.others = 1  # a player's turn starts: the reflection stops and waits
    await asyncio.sleep(0.3)
    assert len(llm.streams) == 1 and llm.streams[0].done  # type: ignore[attr-defined]
    assert not task.done()
    llm.others = 0  # quiet again: it runs to the end
    text = await asyncio.wait_for(task, 10)
    assert text == "I think the player likes spicy food a lot." and len(llm.streams) == 2


@pytest.mark.models
async def test_a_reflection_gives_way_while_the_engine_still_reads_its_prompt(
    runtime: object,
) -> None:
    # A reflection's prompt (the player's latest memories) takes the engine seconds to
    # read; a player who starts speaking meanwhile must not wait for all of it.
    assert isinstance(runtime, Runtime) and isinstance(runtime.llm, EmbeddedLLM)
    llm = runtime.llm
    memories = "\n".join(
        f'- The player said: "Bowl {i}, {uuid.uuid4().hex[:8]}?" I answered: "Sit, kid."'
        for i in range(45)
    )
    task = asyncio.create_task(runtime.reflect(memories))
    try:
        for _ in range(200):  # it starts once the engine has been quiet for 0.5 s
            if llm.active_generations:
                break
            await asyncio.sleep(0.05)
        assert llm.active_generations == 1
        await asyncio.sleep(0.5)  # mid-prompt: ~1,500 tokens take ~4 s to read
        runtime.players_speaking += 1
        t0 = time.perf_counter()
        for _ in range(500):  # 10 s
            if not llm.active_generations:
                break
            await asyncio.sleep(0.02)
        gave_way_ms = (time.perf_counter() - t0) * 1000
        assert llm.active_generations == 0
        assert gave_way_ms < 2000, gave_way_ms
        assert not task.done()  # it tries again once the conversation is over
    finally:
        runtime.players_speaking -= 1
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_an_interim_that_misheard_one_word_still_covers_the_utterance() -> None:
    from npc_runtime.session import interim_covers

    # Whisper on the cut-off audio heard "reign"; the whole utterance says "rain".
    assert interim_covers("Is it going to reign again to", "Is it going to rain again tonight?")
    # Exact beginnings, the last interim word cut off mid-way.
    assert interim_covers("Can I get a bowl of noo", "Can I get a bowl of noodles, please?")


def test_an_interim_that_heard_something_else_or_too_little_does_not_cover_it() -> None:
    from npc_runtime.session import interim_covers

    assert not interim_covers("Where is the bus stop", "Can I get a bowl of noodles, please?")
    # Two of the four words differ: a different question, not a mishearing.
    assert not interim_covers("Do you sell pork buns", "Do you know anyone who fixes implants?")
    # Right, but under half of what was finally said: its recall was for too little.
    assert not interim_covers("What is", "What is the best ramen you make for a cold night?")


def test_an_earlier_interim_keeps_serving_while_it_leaves_room_for_more_words() -> None:
    from npc_runtime.session import interim_covers

    # Heard "What is the best", then "What is the best ram and": the first recall still
    # covers what may be said next, so it is kept (and no new prompt is read).
    assert interim_covers("What is the best", "What is the best ram and", spare_words=2)
    # Too little of the next words: a new recall for them.
    assert not interim_covers("What is the", "What is the best ram", spare_words=2)
