"""Pure pieces of the turn pipeline: heard text, the outbox, prompts."""

from __future__ import annotations

import asyncio
import itertools
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


def test_reply_schema_and_examples_follow_the_reply_order() -> None:
    jin = CharacterStore.load(ROOT / "characters").get("jin")
    for order, keys in (
        ("say_first", ["say", "emotion", "actions"]),
        ("emotion_first", ["emotion", "say", "actions"]),
    ):
        schema = reply_schema(200, None, order)  # type: ignore[arg-type]
        assert list(schema["properties"]) == keys == schema["required"]
        assert schema["properties"]["say"]["maxLength"] == 200
        assert list(json.loads(reply_json("Hi.", "joy", None, order))) == keys  # type: ignore[arg-type]
        # The prompt's examples and its instructions show the model the same order it
        # is then held to: a model shown one order and asked for another stumbles.
        msgs = build_messages(jin, [Exchange("Hello", "Sit, kid.", "joy")], "Hi", order=order)  # type: ignore[arg-type]
        for m in (m for m in msgs if m.role == "assistant"):
            assert list(json.loads(m.content)) == keys, m.content
        rules = msgs[0].content
        assert rules.index(f'"{keys[0]}" is') < rules.index(f'"{keys[1]}" is')
    assert reply_schema(200) == reply_schema(200, None, "say_first")


def test_chunk_visemes_tile_whole_milliseconds_without_overlap() -> None:
    from npc_runtime.tts.visemes import VisemeSpan
    from npc_runtime.turn import chunk_visemes

    # Boundaries that land on .5 ms after float arithmetic, as resampled audio does.
    timeline = [VisemeSpan(i % 15, i * 70.9999999, 70.9999999, 1.0) for i in range(40)]
    for start in (0.0, 200.0, 141.50000001, 2599.9):
        out = chunk_visemes(timeline, start, start + 200.0)
        assert sum(v.duration_ms for v in out) == 200
        for a, b in itertools.pairwise(out):
            assert a.start_ms + a.duration_ms == b.start_ms
    tiny = chunk_visemes(timeline, 1000.0, 1000.6)
    assert sum(v.duration_ms for v in tiny) <= 1


def test_history_window_drops_in_blocks_so_the_prompt_prefix_stays_cached() -> None:
    from npc_runtime.llm.prompt import history_window

    history = [Exchange(f"q{i}", f"a{i}") for i in range(30)]
    assert history_window(history[:5], 8) == history[:5]
    windows = [history_window(history[:n], 8) for n in range(9, 31)]
    assert all(4 < len(w) <= 8 for w in windows)
    assert all(w[-1] == history[n - 1] for w, n in zip(windows, range(9, 31), strict=True))
    # The oldest exchange kept changes only every fourth turn: the prefix is reused.
    firsts = [w[0].player for w in windows]
    changes = sum(a != b for a, b in itertools.pairwise(firsts))
    assert changes <= len(windows) // 4 + 1
    # Each turn's prompt extends the last one's history while the start holds.
    for prev, cur in itertools.pairwise(windows):
        if prev[0] == cur[0]:
            assert cur[: len(prev)] == prev
    assert history_window(history, 0) == []
