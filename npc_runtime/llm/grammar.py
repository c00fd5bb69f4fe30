"""llguidance grammars for the embedded engine: the reply's JSON schema, the reply's
opening written into the prompt (prefill), and the rest of a reply that was paused.

Why not the plain JSON schema everywhere: llama.cpp decodes every token a grammar forces
one step at a time (~25 ms each with one decoding thread on two cores), while text in
the prompt is read in one batch. A paused reply (EmbeddedStream.hold) resumes as a new
request whose prompt ends with what was already said, and whose grammar allows only
what may follow it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

_COMPACT = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}

# One character of a JSON string's body, as JSON writes it: anything but a quote, a
# backslash or a control character, or one escape. The "/" is escaped because it ends a
# lark regex (an unparsable grammar is dropped by llama.cpp without a word).
_STRING_CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\\/bfnrt]|\\u[0-9a-fA-F]{4})'


def llguidance_grammar(schema: dict[str, Any]) -> str:
    """A llguidance grammar for `schema` that forces compact JSON.

    With plain `response_format` the engine lets the model pad the JSON with whitespace and
    tabs, which costs many tokens; fixed separators remove that freedom.
    """
    s = copy.deepcopy(schema)
    if s.get("type") == "object":
        s.setdefault("additionalProperties", False)
    s["x-guidance"] = dict(_COMPACT)
    return "%llguidance {}\nstart: %json " + json.dumps(s)


@dataclasses.dataclass(frozen=True)
class Prefill:
    """The start of the reply written into the prompt instead of decoded: `text` ends the
    assistant message, `grammar` constrains only what follows it."""

    text: str
    grammar: str


@dataclasses.dataclass(frozen=True)
class _Shape:
    """An object schema whose properties all appear, in order, the first a string enum
    (`first_values`) or a plain string (`first_values` None: the spoken line first)."""

    keys: list[str]
    props: dict[str, Any]
    first_values: list[str] | None


def _shape(schema: dict[str, Any]) -> _Shape | None:
    props = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(props, dict) or not props:
        return None
    keys = list(props)
    if (
        schema.get("additionalProperties", False) is not False
        or list(schema.get("required", [])) != keys
    ):
        return None
    first = props[keys[0]]
    if _plain_string(first):
        return _Shape(keys, props, None)
    values = first.get("enum") if isinstance(first, dict) else None
    if (
        first.get("type") != "string"
        or not values
        or not all(isinstance(v, str) and v and '"' not in v and "\\" not in v for v in values)
    ):
        return None
    return _Shape(keys, props, values)


def _value_rule(name: str, sub: Any) -> str:
    sub = copy.deepcopy(sub)
    if isinstance(sub, dict):
        sub["x-guidance"] = dict(_COMPACT)
    return f"{name}: %json {json.dumps(sub)}"


def _grammar(shape: _Shape, head: list[str], head_rules: list[str], after: int) -> str:
    """`start: <head> ,"key":value ... }` for the properties after index `after`."""
    parts, rules = list(head), list(head_rules)
    for i in range(after + 1, len(shape.keys)):
        key = shape.keys[i]
        parts.append(json.dumps(f",{json.dumps(key)}:"))
        parts.append(f"v{i}")
        rules.append(_value_rule(f"v{i}", shape.props[key]))
    parts.append(json.dumps("}"))
    return "\n".join(["%llguidance {}", "start: " + " ".join(parts), *rules])


def prefill_for(schema: dict[str, Any]) -> Prefill | None:
    """For an object whose properties all appear, in order, and whose first is a string
    enum (the reply's emotion) or a plain string (the spoken line): prefill
    `{"<first>":"` and constrain the rest.

    Why: `{"emotion":"` is 4 of the ~9 tokens the model spends before the first spoken
    word (`{"say":"` is all 3 of them). Anything else gets no prefill.
    """
    shape = _shape(schema)
    if shape is None:
        return None
    if shape.first_values is None:
        rest = _string_rest(shape.props[shape.keys[0]], 0)
        return None if rest is None else Prefill(_opening(shape), _grammar(shape, *rest, 0))
    first = "first: " + " | ".join(json.dumps(v) for v in shape.first_values)
    # The first value, then the quote that closes it.
    grammar = _grammar(shape, ["first", json.dumps('"')], [first], 0)
    return Prefill(_opening(shape), grammar)


def _opening(shape: _Shape) -> str:
    return "{" + json.dumps(shape.keys[0]) + ':"'


def _string_rest(sub: dict[str, Any], chars: int) -> tuple[list[str], list[str]] | None:
    """The rest of a plain string value that has `chars` characters so far, and its
    closing quote (None: past its limit already, not a text the grammar allowed)."""
    most = sub.get("maxLength")
    least = max(0, int(sub.get("minLength", 0)) - chars)
    if most is None:
        body = f"/{_STRING_CHAR}{{{least},}}/"
    else:
        room = int(most) - chars
        if room < least:
            return None
        body = f"/{_STRING_CHAR}{{{least},{room}}}/" if room > 0 else ""
    if not body:
        return [json.dumps('"')], []
    return ["body", json.dumps('"')], [f"body: {body}"]


def _string_body(text: str, pos: int) -> tuple[int, int, bool] | None:
    """Scan a JSON string body from `pos` (just past its opening quote): (end, characters,
    closed). `end` is past the closing quote when closed. None: the text stops inside an
    escape, or holds what JSON does not allow in a string."""
    chars = 0
    i, n = pos, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return i + 1, chars, True
        if ch == "\\":
            if i + 1 >= n:
                return None
            if text[i + 1] == "u":
                digits = text[i + 2 : i + 6]
                if len(digits) < 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                    return None
                i += 6
            elif text[i + 1] in '"\\/bfnrt':
                i += 2
            else:
                return None
            chars += 1
            continue
        if ord(ch) < 0x20:
            return None
        chars += 1
        i += 1
    return n, chars, False


def _plain_string(sub: Any) -> bool:
    return (
        isinstance(sub, dict)
        and sub.get("type") == "string"
        and not ({"enum", "const", "pattern", "format"} & set(sub))
    )


def continuation_for(schema: dict[str, Any], text: str) -> Prefill | None:
    """The rest of a reply to `schema` (a `prefill_for` shape) that stopped after `text`.

    Resumable points: inside a plain string value (the spoken line; its length limits
    count what was already said) or just after a complete value. Anywhere else (inside
    the emotion, a key, an escape or an action) gives None: the caller lets the model
    go on to the next resumable point.
    """
    shape = _shape(schema)
    if shape is None or not text.startswith(_opening(shape)):
        return None
    pos = 0
    for i, key in enumerate(shape.keys):
        if i and pos == len(text):
            return Prefill(text, _grammar(shape, [], [], i - 1))
        lead = ("," if i else "{") + f"{json.dumps(key)}:"
        if not text.startswith(lead, pos):
            return None
        pos += len(lead)
        sub = shape.props[key]
        if pos == len(text):
            return Prefill(text, _grammar(shape, [f"v{i}"], [_value_rule(f"v{i}", sub)], i))
        if not (_plain_string(sub) and text[pos] == '"'):
            try:
                value, end = json.JSONDecoder().raw_decode(text, pos)
            except ValueError:
                return None  # inside a value that is not a plain string
            if end == len(text) and text[pos] not in '[{"':
                return None  # a number or literal may go on ("1" → "12")
            if "enum" in sub and value not in sub["enum"]:
                return None  # not one of the enum's values: not a text the grammar allowed
            pos = end
            continue
        scanned = _string_body(text, pos + 1)
        if scanned is None:
            return None
        end, chars, closed = scanned
        if closed:
            pos = end
            continue
        rest = _string_rest(sub, chars)
        if rest is None:
            return None  # past its limit already: not a text the grammar allowed
        return Prefill(text, _grammar(shape, *rest, i))
    if pos == len(text):
        return Prefill(text, _grammar(shape, [], [], len(shape.keys) - 1))
    return None
