"""Incremental reading of a JSON reply while the model is still writing it.

The reply is one JSON object such as {"emotion":"joy","say":"Hello there!","actions":[]}.
To start speaking before the object is complete, `ReplyStreamParser.feed` reports each
top-level field as soon as its value is complete, and the spoken string field ("say") piece by
piece as it is decoded. `finish` then parses the whole text, repairing a reply that was cut
off by max_tokens: every complete value is kept, open containers are closed with what they
hold, and a cut spoken line is kept as far as it got; any other incomplete value, a dangling
key or comma is dropped.

A character-level state machine does the scanning: a stack of open containers, each with
what it expects next, plus a lexical mode (in a string, in a bare scalar, ...).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .base import LLMError


@dataclass(frozen=True)
class FieldValue:
    """A top-level field other than the spoken one, complete (any JSON value)."""

    name: str
    value: Any


@dataclass(frozen=True)
class SayDelta:
    """New decoded text of the spoken string field."""

    text: str


@dataclass(frozen=True)
class SayDone:
    """The spoken string field's closing quote arrived."""


ReplyEvent = FieldValue | SayDelta | SayDone


class ReplyParseError(LLMError):
    """The reply holds no JSON object at all; `text` is what the model wrote."""

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


class _Mode(Enum):
    PREAMBLE = "preamble"  # before the top-level "{" (tolerates a ```json fence or prose)
    NORMAL = "normal"  # between tokens
    STRING = "string"
    SCALAR = "scalar"  # number, true, false, null
    DONE = "done"  # the top-level object closed; the rest is ignored


class _Expect(Enum):
    KEY_OR_END = "key_or_end"  # just after "{"
    KEY = "key"  # after "," in an object
    COLON = "colon"
    VALUE_OR_END = "value_or_end"  # just after "["
    VALUE = "value"  # after ":" or after "," in an array
    COMMA_OR_END = "comma_or_end"


@dataclass
class _Frame:
    closer: str  # "}" or "]"
    expect: _Expect
    member_start: int  # where the current member begins: its leading "," or just past the opener
    key: str = ""
    value_start: int = 0


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _StringDecoder:
    """Decodes a JSON string's body one character at a time, across any chunking."""

    def __init__(self) -> None:
        self.closed = False
        self._escape = ""  # raw text of an unfinished escape: "\\" or "\\u12"
        self._high = ""  # a high surrogate waiting for its low half
        self.parts: list[str] = []

    @property
    def pending_raw(self) -> int:
        """Characters of an unfinished escape at the end (to drop when repairing)."""
        return len(self._escape)

    def push(self, ch: str) -> str:
        out = ""
        if self._escape:
            self._escape += ch
            if self._escape[1] != "u":
                out = self._text(_ESCAPES.get(ch, ch))
                self._escape = ""
            elif len(self._escape) == 6:
                try:
                    out = self._codepoint(int(self._escape[2:], 16))
                except ValueError:
                    out = self._text("\ufffd")
                self._escape = ""
        elif ch == "\\":
            self._escape = ch
        elif ch == '"':
            out = self._text("")  # a waiting high surrogate becomes U+FFFD
            self.closed = True
        else:
            out = self._text(ch)
        self.parts.append(out)
        return out

    def _codepoint(self, cp: int) -> str:
        if 0xD800 <= cp <= 0xDBFF:
            out = self._text("")
            self._high = chr(cp)
            return out
        if 0xDC00 <= cp <= 0xDFFF and self._high:
            pair = (self._high + chr(cp)).encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            self._high = ""
            return pair
        return self._text(chr(cp) if not 0xDC00 <= cp <= 0xDFFF else "\ufffd")

    def _text(self, s: str) -> str:
        if self._high:  # the high surrogate got no low half: not speakable
            self._high = ""
            return "\ufffd" + s
        return s

    def value(self) -> str:
        return "".join(self.parts)


class ReplyStreamParser:
    """Feed text deltas of a JSON object; get events as top-level fields complete."""

    def __init__(self, say_field: str = "say") -> None:
        self.say_field = say_field
        self._text = ""
        self._mode = _Mode.PREAMBLE
        self._stack: list[_Frame] = []
        self._root_start = -1
        self._root_end = -1
        self._str: _StringDecoder | None = None
        self._str_is_key = False
        self._saying = False  # inside the (first) top-level say string
        self._said = False
        self._say_buf: list[str] = []
        self._events: list[ReplyEvent] = []

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return self._text

    @property
    def complete(self) -> bool:
        """True once the top-level object's closing brace has arrived."""
        return self._mode is _Mode.DONE

    def feed(self, delta: str) -> list[ReplyEvent]:
        start = len(self._text)
        self._text += delta
        for i in range(start, len(self._text)):
            if self._mode is _Mode.DONE:
                break
            self._step(i, self._text[i])
        self._flush_say()
        events, self._events = self._events, []
        return events

    # --- scanning ------------------------------------------------------------------------

    def _step(self, i: int, ch: str) -> None:
        mode = self._mode
        if mode is _Mode.STRING:
            self._in_string(i, ch)
        elif mode is _Mode.SCALAR:
            if ch in ",}]" or ch.isspace():
                top = self._stack[-1]
                self._mode = _Mode.NORMAL
                self._value_done(top, self._text[top.value_start : i], raw=True)
                self._normal(i, ch)
        elif mode is _Mode.NORMAL:
            self._normal(i, ch)
        elif ch == "{":  # PREAMBLE
            self._root_start = i
            self._stack.append(_Frame("}", _Expect.KEY_OR_END, i + 1))
            self._mode = _Mode.NORMAL

    def _normal(self, i: int, ch: str) -> None:
        if ch.isspace():
            return
        top = self._stack[-1]
        exp = top.expect
        if ch == top.closer and exp in (
            _Expect.KEY_OR_END,
            _Expect.VALUE_OR_END,
            _Expect.COMMA_OR_END,
        ):
            self._close(i)
        elif exp in (_Expect.KEY_OR_END, _Expect.KEY):
            if ch == '"':
                self._open_string(is_key=True)
        elif exp is _Expect.COLON:
            if ch == ":":
                top.expect = _Expect.VALUE
        elif exp in (_Expect.VALUE_OR_END, _Expect.VALUE):
            self._open_value(i, ch, top)
        elif ch == ",":  # COMMA_OR_END
            top.member_start = i
            top.expect = _Expect.KEY if top.closer == "}" else _Expect.VALUE
        # Anything else is not valid JSON; constrained decoding never produces it, so skip it.

    def _open_value(self, i: int, ch: str, top: _Frame) -> None:
        top.value_start = i
        if ch == '"':
            self._open_string(is_key=False)
            if len(self._stack) == 1 and top.key == self.say_field and not self._said:
                self._saying = self._said = True
        elif ch == "{":
            self._stack.append(_Frame("}", _Expect.KEY_OR_END, i + 1))
        elif ch == "[":
            self._stack.append(_Frame("]", _Expect.VALUE_OR_END, i + 1))
        else:
            self._mode = _Mode.SCALAR

    def _open_string(self, is_key: bool) -> None:
        self._str = _StringDecoder()
        self._str_is_key = is_key
        self._mode = _Mode.STRING

    def _in_string(self, i: int, ch: str) -> None:
        dec = self._str
        assert dec is not None
        out = dec.push(ch)
        if self._saying and out:
            self._say_buf.append(out)
        if not dec.closed:
            return
        self._mode = _Mode.NORMAL
        top = self._stack[-1]
        if self._str_is_key:
            top.key = dec.value()
            top.expect = _Expect.COLON
        else:
            self._value_done(top, dec.value(), raw=False)

    def _close(self, i: int) -> None:
        self._stack.pop()
        if not self._stack:
            self._root_end = i + 1
            self._mode = _Mode.DONE
            return
        parent = self._stack[-1]
        self._value_done(parent, self._text[parent.value_start : i + 1], raw=True)

    def _value_done(self, frame: _Frame, value: str, raw: bool) -> None:
        frame.expect = _Expect.COMMA_OR_END
        if len(self._stack) != 1:
            return  # only top-level fields are reported
        if self._saying:
            self._saying = False
            self._flush_say()
            self._events.append(SayDone())
            return
        parsed: Any = value
        if raw:
            try:
                parsed = _clean(json.loads(value, strict=False))
            except ValueError:
                return  # malformed scalar; finish() decides what survives
        self._events.append(FieldValue(frame.key, parsed))

    def _flush_say(self) -> None:
        if self._say_buf:
            self._events.append(SayDelta("".join(self._say_buf)))
            self._say_buf = []

    # --- the whole reply -----------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        """The reply as a dict, repaired if it was cut off. Raises ReplyParseError only when
        there is no JSON object in it at all."""
        if self._mode is _Mode.PREAMBLE:
            raise ReplyParseError(
                f"the model's reply holds no JSON object: {self._text[:120]!r}. Use a model or "
                "server with JSON-schema constrained output (response_format json_schema).",
                self._text,
            )
        if self._mode is _Mode.DONE:
            body = self._text[self._root_start : self._root_end]
        else:
            body = self._repaired()
        try:
            value = json.loads(body, strict=False)
        except ValueError as e:  # the scanner skipped invalid characters json rejects
            raise ReplyParseError(f"the model's reply is not valid JSON ({e})", self._text) from e
        return dict(_clean(value))

    def _repaired(self) -> str:
        """The text cut back to its last complete part, with the open containers closed."""
        top = self._stack[-1]
        end, suffix = len(self._text), ""
        if self._mode is _Mode.STRING:
            assert self._str is not None
            if not self._saying:
                # A half key is useless, and any half string but the spoken line (an emotion,
                # an action's target) would be wrong rather than short: drop the member.
                end = top.member_start
            else:
                end -= self._str.pending_raw  # keep the partial text, without a half escape
                suffix = '"'
        elif self._mode is _Mode.SCALAR:
            # A number may have more digits to come ("0" of "0.75"); only a full literal is sure.
            if self._text[top.value_start :] not in ("true", "false", "null"):
                end = top.member_start
        elif top.expect in (_Expect.KEY, _Expect.COLON, _Expect.VALUE):
            end = top.member_start  # a dangling "," or "key" or "key":
        closers = "".join(f.closer for f in reversed(self._stack))
        return self._text[self._root_start : end] + suffix + closers


def _clean(value: Any) -> Any:
    """Replace lone UTF-16 surrogates (from a cut or bad \\u escape) so text stays speakable."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return value
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value
