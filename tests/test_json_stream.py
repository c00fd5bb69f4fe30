"""ReplyStreamParser: the spoken line streams out of a JSON reply while it is being written."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from npc_runtime.llm.base import LLMError
from npc_runtime.llm.json_stream import (
    FieldValue,
    ReplyEvent,
    ReplyParseError,
    ReplyStreamParser,
    SayDelta,
    SayDone,
)

COMPACT = '{"emotion":"joy","say":"Welcome, traveller! Sit by the fire.","actions":[]}'
NESTED = json.dumps(
    {
        "actions": [{"verb": "give", "target": "axe", "say": "not the line"}],
        "meta": {"say": "nor this", "list": [1, [2, {"x": "y"}], None]},
        "emotion": "anger",
        "say": 'Take the axe and go. "Now," I said.',
        "intensity": 0.75,
        "final": True,
    },
    indent=2,
)


def feed_all(parser: ReplyStreamParser, chunks: list[str]) -> list[ReplyEvent]:
    events: list[ReplyEvent] = []
    for c in chunks:
        events += parser.feed(c)
    return events


def said(events: list[ReplyEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, SayDelta))


def fields(events: list[ReplyEvent]) -> dict[str, Any]:
    return {e.name: e.value for e in events if isinstance(e, FieldValue)}


def random_chunks(text: str, rng: random.Random) -> list[str]:
    chunks, i = [], 0
    while i < len(text):
        n = rng.randint(1, 6)
        chunks.append(text[i : i + n])
        i += n
    return chunks


def test_compact_reply_gives_emotion_then_say_pieces_then_done() -> None:
    p = ReplyStreamParser()
    events = feed_all(p, [COMPACT[:20], COMPACT[20:41], COMPACT[41:]])
    assert events[0] == FieldValue("emotion", "joy")
    assert said(events) == "Welcome, traveller! Sit by the fire."
    done_at = events.index(SayDone())
    assert all(not isinstance(e, SayDelta) for e in events[done_at:])
    assert events[-1] == FieldValue("actions", [])
    assert events.count(SayDone()) == 1
    assert p.complete
    assert p.finish() == json.loads(COMPACT)


def test_say_streams_before_the_object_is_complete() -> None:
    p = ReplyStreamParser()
    assert p.feed('{"emotion":"joy","say":"Hel') == [FieldValue("emotion", "joy"), SayDelta("Hel")]
    assert p.feed("lo") == [SayDelta("lo")]
    assert p.feed('!","actions":[') == [SayDelta("!"), SayDone()]
    assert not p.complete


def test_one_character_at_a_time_equals_all_at_once() -> None:
    for text in (COMPACT, NESTED):
        whole = ReplyStreamParser()
        whole_events = whole.feed(text)
        single = ReplyStreamParser()
        single_events = feed_all(single, list(text))
        assert said(single_events) == said(whole_events) == json.loads(text)["say"]
        assert fields(single_events) == fields(whole_events)
        assert single.finish() == whole.finish() == json.loads(text)


def test_any_field_order_and_nested_say_keys_do_not_leak_into_the_line() -> None:
    p = ReplyStreamParser()
    events = feed_all(p, list(NESTED))
    assert said(events) == 'Take the axe and go. "Now," I said.'
    assert fields(events) == {
        "actions": [{"verb": "give", "target": "axe", "say": "not the line"}],
        "meta": {"say": "nor this", "list": [1, [2, {"x": "y"}], None]},
        "emotion": "anger",
        "intensity": 0.75,
        "final": True,
    }


def test_escapes_split_at_every_position_decode_the_same() -> None:
    line = 'Quote " back\\slash /, tab\t nl\n é 漢 😀 \x01 end'
    text = json.dumps({"say": line, "emotion": "fear"}, ensure_ascii=True)
    assert "\\ud83d\\ude00" in text  # the emoji as a surrogate pair
    for cut in range(1, len(text)):
        p = ReplyStreamParser()
        events = feed_all(p, [text[:cut], text[cut:]])
        assert said(events) == line, cut
        assert p.finish() == {"say": line, "emotion": "fear"}


def test_surrogate_pair_split_across_three_deltas() -> None:
    p = ReplyStreamParser()
    events = feed_all(p, ['{"say":"a\\ud8', "3d\\u", 'de00b"}'])
    assert said(events) == "a😀b"
    # Nothing half-decoded is ever spoken: the high half waits for the low half.
    assert all("\ud83d" not in e.text for e in events if isinstance(e, SayDelta))


def test_lone_surrogates_become_replacement_characters() -> None:
    p = ReplyStreamParser()
    events = p.feed('{"say":"a\\ud83dx \\ude00 b\\ud83d"}')
    assert said(events) == "a\ufffdx \ufffd b\ufffd"
    assert p.finish() == {"say": "a\ufffdx \ufffd b\ufffd"}


def test_random_documents_in_random_chunks_match_json_loads() -> None:
    rng = random.Random(7)
    words = ["hi", 'q"uote', "back\\", "é", "😀", "tab\t", "", "say", "{[", "]}", ",:"]
    for _ in range(300):
        doc: dict[str, Any] = {}
        keys = ["say", "emotion", "actions", "n", "flag", "nested"]
        rng.shuffle(keys)
        for k in keys[: rng.randint(1, len(keys))]:
            if k == "say":
                doc[k] = " ".join(rng.choice(words) for _ in range(rng.randint(0, 6)))
            elif k == "actions":
                doc[k] = [{"verb": rng.choice(words), "say": rng.choice(words)}] * rng.randint(0, 2)
            elif k == "n":
                doc[k] = rng.choice([0, -3, 2.5, 1e-7, 12345678901])
            elif k == "flag":
                doc[k] = rng.choice([True, False, None])
            else:
                doc[k] = {"a": [rng.choice(words), {"say": rng.choice(words)}]}
        text = json.dumps(doc, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1, "\t"]))
        p = ReplyStreamParser()
        events = feed_all(p, random_chunks(text, rng))
        assert p.finish() == doc
        expect_fields = {k: v for k, v in doc.items() if k != "say"}
        assert fields(events) == expect_fields
        if "say" in doc:
            assert said(events) == doc["say"]
            assert events.count(SayDone()) == 1


def test_every_cut_of_a_reply_recovers_what_is_complete() -> None:
    full = json.loads(NESTED)
    for cut in range(NESTED.index("{") + 1, len(NESTED) + 1):
        p = ReplyStreamParser()
        p.feed(NESTED[:cut])
        got = p.finish()
        assert isinstance(got, dict), cut
        assert set(got) <= set(full), cut
        for key, value in got.items():
            if key == "say":
                assert full["say"].startswith(value), cut
            elif key in ("actions", "meta"):
                assert isinstance(value, type(full[key])), cut
            else:
                assert value == full[key], cut


def test_cut_reply_keeps_the_partial_line_and_closes_brackets() -> None:
    p = ReplyStreamParser()
    p.feed('{"emotion":"sadness","say":"I lost my brother in the wa')
    assert p.finish() == {"emotion": "sadness", "say": "I lost my brother in the wa"}
    p = ReplyStreamParser()
    p.feed('{"emotion":"joy","say":"Take it.","actions":[{"verb":"give","target":"ax')
    assert p.finish() == {"emotion": "joy", "say": "Take it.", "actions": [{"verb": "give"}]}


def test_cut_inside_an_escape_drops_only_the_half_escape() -> None:
    for tail in ("\\", "\\u", "\\u00", "\\u00e"):
        p = ReplyStreamParser()
        p.feed('{"say":"caf' + tail)
        assert p.finish() == {"say": "caf"}, tail
    p = ReplyStreamParser()
    p.feed('{"say":"ok \\ud83d')  # a cut between the halves of a pair
    assert p.finish() == {"say": "ok \ufffd"}


def test_cut_after_a_key_or_comma_or_inside_a_literal_drops_the_dangling_member() -> None:
    for text in (
        '{"emotion":"joy",',
        '{"emotion":"joy","say"',
        '{"emotion":"joy","say":',
        '{"emotion":"joy","sa',
        '{"emotion":"joy","ok":tr',
        '{"emotion":"joy","n":-',
        '{"emotion":"joy","n":42',  # the number may have been cut: 42 of 420
    ):
        p = ReplyStreamParser()
        p.feed(text)
        assert p.finish() == {"emotion": "joy"}, text
    p = ReplyStreamParser()
    p.feed('{"emotion":"joy","ok":true')  # a whole literal cannot be longer
    assert p.finish() == {"emotion": "joy", "ok": True}


def test_code_fence_and_prose_around_the_object_are_ignored() -> None:
    p = ReplyStreamParser()
    events = feed_all(p, ["Sure!\n```json\n", COMPACT, "\n```\nHope that helps {"])
    assert said(events) == "Welcome, traveller! Sit by the fire."
    assert p.finish() == json.loads(COMPACT)


def test_reply_without_json_raises_a_clear_llm_error() -> None:
    p = ReplyStreamParser()
    assert p.feed("Hello there, traveller.") == []
    with pytest.raises(ReplyParseError, match="no JSON object") as info:
        p.finish()
    assert isinstance(info.value, LLMError)
    assert info.value.text == "Hello there, traveller."


def test_non_string_say_is_reported_as_a_field() -> None:
    p = ReplyStreamParser()
    events = p.feed('{"say":null,"emotion":"joy"}')
    assert events == [FieldValue("say", None), FieldValue("emotion", "joy")]


def test_custom_say_field_name() -> None:
    p = ReplyStreamParser(say_field="line")
    events = p.feed('{"say":"no","line":"yes"}')
    assert events == [FieldValue("say", "no"), SayDelta("yes"), SayDone()]
