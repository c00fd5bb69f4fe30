"""Grammars for the embedded engine: where a paused reply can resume, and what may follow."""

from __future__ import annotations

from typing import Any

from npc_runtime.llm.grammar import continuation_for, prefill_for

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "emotion": {"type": "string", "enum": ["neutral", "joy"]},
        "say": {"type": "string", "minLength": 1, "maxLength": 40},
        "actions": {"type": "array", "maxItems": 0, "items": {"type": "object"}},
    },
    "required": ["emotion", "say", "actions"],
}
OPEN = '{"emotion":"joy","say":"'


def rules(text: str) -> list[str]:
    cont = continuation_for(SCHEMA, text)
    assert cont is not None and cont.text == text
    return cont.grammar.splitlines()[1:]


def test_inside_the_spoken_line_the_rest_may_use_what_its_limit_has_left() -> None:
    start, body, actions = rules(OPEN + "Hi there.")
    assert start == 'start: body "\\"" ",\\"actions\\":" v2 "}"'
    assert body.endswith("{0,31}/")  # 40 - len("Hi there.")
    assert actions.startswith("v2: %json ")
    # minLength is met only by what was said: an empty line must still get a character.
    assert rules(OPEN)[1].endswith("{1,40}/")


def test_an_escape_counts_as_one_character_and_a_cut_escape_cannot_resume() -> None:
    assert rules(OPEN + 'a \\"b\\" \\u00e9')[1].endswith("{0,33}/")
    for cut in ("\\", "\\u00"):
        assert continuation_for(SCHEMA, OPEN + "a " + cut) is None


def test_the_string_body_rule_escapes_the_slash_that_would_end_a_lark_regex() -> None:
    body = rules(OPEN + "x")[1]
    pattern = body[len("body: /") : -1]
    assert "/" not in pattern.replace("\\/", "")


def test_between_values_the_rest_starts_with_the_next_key() -> None:
    assert rules('{"emotion":"joy"')[0] == 'start: ",\\"say\\":" v1 ",\\"actions\\":" v2 "}"'
    assert rules(OPEN + 'Hi."')[0] == 'start: ",\\"actions\\":" v2 "}"'
    assert rules(OPEN + 'Hi.","actions":[]') == ['start: "}"']


def test_points_that_cannot_resume_give_none() -> None:
    for text in (
        '{"emotion":"jo',  # inside the emotion
        '{"emotion":"happy"',  # not one of the enum's values
        '{"emotion":"joy","sa',  # inside a key
        OPEN + 'Hi.","actions":[',  # inside the actions
        OPEN + "x" * 41,  # past the line's limit: not something the grammar allowed
        '{"say":"Hi',  # not the reply's opening
    ):
        assert continuation_for(SCHEMA, text) is None, text


def test_only_prefillable_shapes_can_resume() -> None:
    optional = {**SCHEMA, "required": ["emotion", "say"]}
    assert prefill_for(optional) is None
    assert continuation_for(optional, OPEN + "Hi") is None


SAY_FIRST: dict[str, Any] = {
    **SCHEMA,
    "properties": {k: SCHEMA["properties"][k] for k in ("say", "emotion", "actions")},
    "required": ["say", "emotion", "actions"],
}


def test_a_reply_that_opens_with_its_line_resumes_inside_it_and_between_values() -> None:
    prefill = prefill_for(SAY_FIRST)
    assert prefill is not None and prefill.text == '{"say":"'
    inside = continuation_for(SAY_FIRST, '{"say":"Hi there.')
    assert inside is not None
    start, body, emotion, actions = inside.grammar.splitlines()[1:]
    assert start == 'start: body "\\"" ",\\"emotion\\":" v1 ",\\"actions\\":" v2 "}"'
    assert body.endswith("{0,31}/")  # 40 - len("Hi there.")
    assert emotion.startswith("v1: %json ") and '"joy"' in emotion
    assert actions.startswith("v2: %json ")
    after = continuation_for(SAY_FIRST, '{"say":"Hi."')
    assert after is not None
    assert after.grammar.splitlines()[1] == 'start: ",\\"emotion\\":" v1 ",\\"actions\\":" v2 "}"'
    done = continuation_for(SAY_FIRST, '{"say":"Hi.","emotion":"joy"')
    assert done is not None and done.grammar.splitlines()[1] == 'start: ",\\"actions\\":" v2 "}"'
    for text in (
        '{"say":"Hi.","emotion":"jo',  # inside the emotion
        '{"say":"Hi.","emotion":"happy"',  # not one of its values
        '{"emotion":"joy"',  # not this reply's opening
        '{"say":"' + "x" * 41,  # past the line's limit
    ):
        assert continuation_for(SAY_FIRST, text) is None, text
