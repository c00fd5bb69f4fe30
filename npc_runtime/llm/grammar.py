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
    """An object schema whose properties all appear, in order, the first a string enum."""

    keys: list[str]
    props: dict[str, Any]
    first_values: list[str]


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
    enum (the reply's emotion): prefill `{"<first>":"` and constrain the rest.

    Why: `{"emotion":"` is 4 of the ~9 tokens the model spends before the first spoken
    word. Anything else gets no prefill.
    """
    shape = _shape(schema)
    if shape is None:
        return None
    first = "first: " + " | ".join(json.dumps(v) for v in shape.first_values)
    # The first value, then the quote that closes it.
    grammar = _grammar(shape, ["first", json.dumps('"')], [first], 0)
    return Prefill("{" + json.dumps(shape.keys[0]) + ':"', grammar)


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
    if shape is None:
        return None
    opening = "{" + json.dumps(shape.keys[0]) + ':"'
    if not text.startswith(opening):
        return None
    close = text.find('"', len(opening))
    if close < 0 or text[len(opening) : close] not in shape.first_values:
        return None
    pos = close + 1
    for i, key in enumerate(shape.keys[1:], start=1):
        if pos == len(text):
            return Prefill(text, _grammar(shape, [], [], i - 1))
        lead = f",{json.dumps(key)}:"
        if not text.startswith(lead, pos):
            return None
        pos += len(lead)
        sub = shape.props[key]
        if pos == len(text):
            return Prefill(text, _grammar(shape, [f"v{i}"], [_value_rule(f"v{i}", sub)], i))
        if not (_plain_string(sub) and text[pos] == '"'):
            try:
                _, end = json.JSONDecoder().raw_decode(text, pos)
            except ValueError:
                return None  # inside a value that is not a plain string
            if end == len(text) and text[pos] not in "[{":
                return None  # a number or literal may go on ("1" → "12")
            pos = end
            continue
        scanned = _string_body(text, pos + 1)
        if scanned is None:
            return None
        end, chars, closed = scanned
        if closed:
            pos = end
            continue
        most = sub.get("maxLength")
        least = max(0, int(sub.get("minLength", 0)) - chars)
        if most is None:
            body = f"/{_STRING_CHAR}{{{least},}}/"
        else:
            room = int(most) - chars
            if room < least:
                return None  # past its limit already: not a text the grammar allowed
            body = f"/{_STRING_CHAR}{{{least},{room}}}/" if room > 0 else ""
        head = ["body", json.dumps('"')] if body else [json.dumps('"')]
        return Prefill(text, _grammar(shape, head, [f"body: {body}"] if body else [], i))
    if pos == len(text):
        return Prefill(text, _grammar(shape, [], [], len(shape.keys) - 1))
    return None
