"""A turn holds its reply in the real llama.cpp engine while real piper synthesises the
first sentence, so that sentence has the cores; the reply then goes on, whole."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from engine_slots import busy_slots_blocking

from npc_runtime.characters import load_character
from npc_runtime.config import ReplyOrder
from npc_runtime.emotion import EmotionBook, Mood, llm_stimulus
from npc_runtime.events import AudioOut, EmotionOut, ServerOut, TextOut, TurnCause
from npc_runtime.llm.embedded import EmbeddedLLM
from npc_runtime.tts.piper_tts import PiperSynthesizer, SpeechStream, VoiceSettings
from npc_runtime.turn import Turn, TurnConfig, TurnRequest

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
async def llm() -> AsyncIterator[EmbeddedLLM]:
    engine = await EmbeddedLLM.aload(n_ctx=4096, n_parallel=1)
    yield engine
    await engine.aclose()


@pytest.fixture(scope="module")
def voice() -> PiperSynthesizer:
    return PiperSynthesizer.build(None, alignments=False)


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[float, ServerOut]] = []

    def emit(self, event: ServerOut) -> None:
        self.items.append((time.perf_counter(), event))


async def run_turn(
    llm: EmbeddedLLM, voice: PiperSynthesizer, hold: bool, order: ReplyOrder = "say_first"
) -> dict[str, Any]:
    """One turn with a reply that runs long (greedy SmolLM2 repeats itself); says whether
    the engine was decoding while piper made the first sentence."""
    seen: dict[str, Any] = {}
    stream = voice.stream

    def watched(
        text: str, settings: VoiceSettings | None = None, first_piece_ms: float = 0.0
    ) -> SpeechStream:
        made = stream(text, settings, first_piece_ms)
        if "first_sentence" not in seen:
            seen["first_sentence"] = text
            next_piece = made.next_piece

            def first_piece() -> np.ndarray | None:
                if "engine_decoding" not in seen:
                    # Held: give the engine up to 1 s to reach a point it can stop at.
                    # Not held: one look, as waiting for a stop would wait out the reply.
                    settle_s = 1.0 if hold else 0.0
                    seen["engine_decoding"] = bool(busy_slots_blocking(llm, settle_s))
                return next_piece()

            made.next_piece = first_piece  # type: ignore[method-assign]
        return made

    jin = load_character(ROOT / "characters" / "jin" / "character.toml")
    cfg = TurnConfig(
        character=jin,
        llm=llm,
        synthesizer=voice,
        voice=VoiceSettings(),
        output_rate=16_000,
        hold_llm_for_first_sentence=hold,
        temperature=0.0,
        max_tokens=120,
        max_say_chars=300,
        reply_order=order,
    )
    out = Events()
    request = TurnRequest(
        uuid.uuid4().hex, TurnCause.TEXT, "Tell me about your broth.", time.perf_counter()
    )
    turn = Turn(cfg, request, [], out)
    voice.stream = watched  # type: ignore[method-assign]
    try:
        await turn.run()
    finally:
        del voice.stream
    seen["turn"] = turn
    seen["events"] = out.items
    return seen


async def test_reply_is_held_while_its_first_sentence_is_synthesised(
    llm: EmbeddedLLM, voice: PiperSynthesizer
) -> None:
    held = await run_turn(llm, voice, hold=True)
    turn = held["turn"]
    assert not turn.error
    assert held["engine_decoding"] is False  # the engine stopped for piper
    # ...and went on afterwards: the reply is longer than the first sentence, all spoken.
    assert len(turn.text) > len(held["first_sentence"]) + 20
    spoken = " ".join(span.text for span in turn.spans)
    assert spoken.split() == turn.text.split()
    assert any(isinstance(e, AudioOut) and e.sentence_index >= 1 for _, e in held["events"])
    text = "".join(e.delta for _, e in held["events"] if isinstance(e, TextOut))
    assert text == turn.text


async def test_without_the_hold_the_engine_decodes_beside_piper(
    llm: EmbeddedLLM, voice: PiperSynthesizer
) -> None:
    free = await run_turn(llm, voice, hold=False)
    assert not free["turn"].error
    assert free["engine_decoding"] is True


async def test_with_the_line_first_the_face_starts_from_the_mood_and_the_reply_moves_it(
    llm: EmbeddedLLM, voice: PiperSynthesizer
) -> None:
    for order in ("say_first", "emotion_first"):
        run = await run_turn(llm, voice, hold=True, order=order)  # type: ignore[arg-type]
        turn, events = run["turn"], [e for _, e in run["events"]]
        assert not turn.error and turn.emotion_named
        kinds = [type(e) for e in events]
        faces = [e for e in events if isinstance(e, EmotionOut)]
        # Every turn's face is set before its first word and its first sound.
        assert kinds.index(EmotionOut) < min(kinds.index(TextOut), kinds.index(AudioOut))
        if order == "emotion_first":
            assert len(faces) == 1  # the reply's own, before the line
            continue
        # The line first: the face starts as the mood is (this fresh mood: Jin's
        # baseline), and the reply's emotion, written after the line, moves it once.
        baseline = Mood(EmotionBook(), turn.config.character, "").current()
        assert len(faces) == 2 and faces[0].category == baseline.category
        assert events.index(faces[1]) > kinds.index(TextOut)
        reply = Mood(EmotionBook(), turn.config.character, "")
        expected = reply.feel(llm_stimulus(turn.emotion, reply.model))
        assert faces[1].category == expected.category
