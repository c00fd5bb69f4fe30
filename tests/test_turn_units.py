"""Pure pieces of the turn pipeline: heard text, the outbox, prompts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from npc_runtime.characters import CharacterStore
from npc_runtime.events import AudioOut, ErrorCode, ErrorOut, TextOut, Timings, TurnEndOut
from npc_runtime.llm.prompt import Exchange, build_messages, reply_json, reply_schema
from npc_runtime.outbox import Outbox
from npc_runtime.turn import SentenceSpan, heard_text

ROOT = Path(__file__).resolve().parent.parent

SPANS = [
    SentenceSpan("Sit down, kid.", 0.0, 1000.0),
    SentenceSpan("The broth needs ten more minutes.", 1000.0, 3000.0),
]


def test_heard_text_keeps_whole_sentences_that_finished() -> None:
    assert heard_text(SPANS, 1000.0) == "Sit down, kid."
    assert heard_text(SPANS, 5000.0) == "Sit down, kid. The broth needs ten more minutes."


def test_heard_text_cuts_the_interrupted_sentence_by_played_fraction() -> None:
    assert heard_text(SPANS, 2000.0) == "Sit down, kid. The broth needs"
    assert heard_text(SPANS, 0.0) == ""


async def test_barge_in_drops_unplayed_audio() -> None:
    box = Outbox()
    box.emit(AudioOut("t1", 0, b"\0\0" * 2205, 22050, 0, 0))
    first = await box.next()
    assert isinstance(first, AudioOut)
    box.emit(AudioOut("t1", 1, b"\0\0" * 2205, 22050, 100, 0))
    box.emit(TextOut("t1", "more"))
    box.drop_turn("t1")
    box.emit(AudioOut("t1", 2, b"\0\0" * 2205, 22050, 200, 0))  # late: must be dropped too
    box.emit(TurnEndOut("t1", True, Timings(), "x", "", "barge-in"))
    nxt = await box.next()
    assert isinstance(nxt, TurnEndOut)
    assert round(box.sent_audio_ms["t1"]) == 100


async def test_outbox_keeps_control_events_of_dropped_turns() -> None:
    box = Outbox()
    box.drop_turn("t1")
    box.emit(ErrorOut(ErrorCode.INTERNAL, "boom", turn_id="t1"))
    assert isinstance(await asyncio.wait_for(box.next(), 1), ErrorOut)
    box.close()
    assert await box.next() is None


def test_prompt_prefix_is_stable_across_turns() -> None:
    jin = CharacterStore.load(ROOT / "characters").get("jin")
    a = build_messages(jin, [], "Hello")
    b = build_messages(jin, [Exchange("Hello", "Sit, kid.")], "What's good?")
    n = len(a) - 1  # everything but the player's line is shared
    assert a[:n] == b[:n]
    assert b[-1].content == "What's good?"


def test_reply_schema_orders_emotion_before_say() -> None:
    schema = reply_schema(200)
    assert list(schema["properties"]) == ["emotion", "say", "actions"]
    assert schema["properties"]["say"]["maxLength"] == 200
    assert json.loads(reply_json("Hi.", "joy")) == {"emotion": "joy", "say": "Hi.", "actions": []}
