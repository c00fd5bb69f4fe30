"""WebSocket frames ⇄ protobuf messages for the gateway.

A binary frame is one serialized `npc.v1.ClientEvent`/`ServerEvent`; a text frame
is one in proto3 canonical JSON (lowerCamelCase names, enum names, bytes in
base64), for clients without a protobuf library. Mapping the messages to domain
events stays in codec.py; this is only the wire format.
"""

from __future__ import annotations

import enum
import json

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError

from ..events import ErrorCode
from .codec import DecodeError
from .gen.npc.v1 import npc_pb2 as pb

_JSON_EXAMPLE = '{"textInput": {"text": "hello"}}'


class FrameFormat(enum.Enum):
    BINARY = "binary"  # serialized protobuf
    JSON = "json"  # proto3 canonical JSON in a text frame


def parse_binary(data: bytes) -> pb.ClientEvent | DecodeError:
    """A binary frame → ClientEvent, or the error to send back for it."""
    try:
        return pb.ClientEvent.FromString(data)
    except ProtobufDecodeError as e:
        return DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            f"a binary frame of {len(data)} bytes is not a serialized npc.v1.ClientEvent "
            f"({e}); send exactly one ClientEvent per binary frame",
        )


def parse_json(text: str) -> pb.ClientEvent | DecodeError:
    """A text frame → ClientEvent, or the error to send back for it. Strict: an
    unknown or misspelt field is an error, not silently dropped."""
    try:
        obj = json.loads(text)
    except ValueError as e:
        return _json_error(f"it is not valid JSON: {e}")
    if not isinstance(obj, dict):
        return _json_error(f"it is a JSON {type(obj).__name__}, not an object")
    try:
        return json_format.ParseDict(obj, pb.ClientEvent())
    except json_format.ParseError as e:
        return _json_error(_short(str(e).replace("\n", " ")))


def _json_error(why: str) -> DecodeError:
    return DecodeError(
        ErrorCode.INVALID_ARGUMENT,
        f"a text frame is not an npc.v1.ClientEvent in proto3 JSON: {why}. Send one ClientEvent "
        f"object per text frame, e.g. {_JSON_EXAMPLE}",
    )


def encode(event: pb.ServerEvent, fmt: FrameFormat) -> bytes | str:
    if fmt is FrameFormat.BINARY:
        return event.SerializeToString()
    # Compact separators: audio frames are mostly base64 already.
    return json.dumps(json_format.MessageToDict(event), separators=(",", ":"))


def _short(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
