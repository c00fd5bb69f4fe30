"""Protobuf ⇄ domain events. The only module that imports generated code
(besides the service registration), so the core stays transport-free."""

from __future__ import annotations

import re
from typing import Any

from .. import __version__
from ..audio import AudioFormatError, check_rate
from ..characters import EMOTIONS, Character
from ..events import (
    ActionOut,
    AudioEndIn,
    AudioFormatSpec,
    AudioIn,
    AudioOut,
    ClientIn,
    EmotionOut,
    ErrorCode,
    ErrorOut,
    GameTimeIn,
    InterruptIn,
    NotYetSupportedIn,
    PlaybackIn,
    ServerOut,
    SessionReadyOut,
    SessionStartIn,
    SpeechStartedOut,
    TextIn,
    TextOut,
    Timings,
    TranscriptOut,
    TriggerIn,
    TurnCause,
    TurnEndOut,
    TurnStartedOut,
)
from .gen.npc.v1 import npc_pb2 as pb

DEFAULT_INPUT_RATE = 16_000
DEFAULT_OUTPUT_RATE = 22_050


class DecodeError(ValueError):
    """A client message the server cannot accept; carries the status code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def _format(fmt: pb.AudioFormat, default_rate: int, what: str) -> AudioFormatSpec:
    rate = fmt.sample_rate_hz or default_rate
    channels = fmt.channels or 1
    try:
        check_rate(rate, what)
    except AudioFormatError as e:
        raise DecodeError(ErrorCode.INVALID_ARGUMENT, str(e)) from None
    if channels != 1:
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            f"{what} has {channels} channels; only mono is supported: downmix before sending",
        )
    if fmt.encoding not in (pb.AUDIO_ENCODING_UNSPECIFIED, pb.AUDIO_ENCODING_PCM_S16LE):
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            f"{what} encoding {fmt.encoding} is not supported; send PCM s16le",
        )
    return AudioFormatSpec(rate, channels)


def decode_start(ev: pb.ClientEvent) -> SessionStartIn:
    """The first message of a stream; raises DecodeError if it is not a usable SessionStart."""
    kind = ev.WhichOneof("event")
    if kind != "session_start":
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            f"the first message of Converse must be session_start, got {kind or 'an empty event'}",
        )
    s = ev.session_start
    if not s.character_id:
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            "session_start.character_id is empty: name a character (see ListCharacters)",
        )
    silence = s.endpointing.end_of_speech_silence_ms
    if silence and not 100 <= silence <= 3000:
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            f"endpointing.end_of_speech_silence_ms={silence} is out of range: use 100-3000 "
            "or 0 for the server default",
        )
    return SessionStartIn(
        character_id=s.character_id,
        player_id=s.player_id,
        input_audio=_format(s.input_audio, DEFAULT_INPUT_RATE, "input_audio"),
        output_audio=_format(s.output_audio, DEFAULT_OUTPUT_RATE, "output_audio"),
        visemes=s.visemes,
        language=s.language,
        end_of_speech_silence_ms=silence,
        push_to_talk_only=s.endpointing.push_to_talk_only,
        greet=s.greet,
        text_only=s.text_only,
        unpaced_audio=s.unpaced_audio,
        resume_session_id=s.resume_session_id,
        has_scene=bool(s.scene.nodes or s.scene.relations),
        game_time_hours=_game_time(s.game_time_hours),
    )


def _game_time(hours: float) -> float | None:
    if hours != hours or abs(hours) > 1e9:  # NaN or absurd
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            f"game time {hours} hours is not a usable clock value: send finite hours, "
            "or 0 for none",
        )
    return hours or None


_TRIGGER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def _trigger(t: pb.Trigger) -> TriggerIn:
    if not _TRIGGER_NAME.match(t.name):
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            f"trigger.name {t.name[:80]!r} is not a valid event name: use 1-64 letters, digits, "
            "'_', '.', ':' or '-', e.g. player_looted_store",
        )
    if len(t.parameters) > 32 or any(len(k) > 64 or len(v) > 512 for k, v in t.parameters.items()):
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            "trigger.parameters is too large: at most 32 entries, keys up to 64 and values up "
            "to 512 characters",
        )
    return TriggerIn(t.name, dict(t.parameters), t.react, t.source_id)


def decode(ev: pb.ClientEvent) -> ClientIn:
    """Any message after SessionStart."""
    kind = ev.WhichOneof("event")
    if kind == "audio_chunk":
        return AudioIn(ev.audio_chunk.pcm)
    if kind == "audio_end":
        return AudioEndIn()
    if kind == "text_input":
        return TextIn(ev.text_input.text)
    if kind == "playback_progress":
        p = ev.playback_progress
        return PlaybackIn(p.turn_id, p.played_ms, p.finished)
    if kind == "interrupt":
        return InterruptIn(ev.interrupt.turn_id)
    if kind == "trigger":
        return _trigger(ev.trigger)
    if kind == "game_time":
        hours = _game_time(ev.game_time.hours)
        return GameTimeIn(hours or 0.0)
    if kind in ("scene_update", "action_result"):
        return NotYetSupportedIn(kind)
    if kind == "session_start":
        raise DecodeError(
            ErrorCode.FAILED_PRECONDITION,
            "session_start was already received; open a new Converse stream for a new session",
        )
    raise DecodeError(ErrorCode.INVALID_ARGUMENT, "empty ClientEvent: set one of its fields")


_CAUSE = {
    TurnCause.SPEECH: pb.TURN_CAUSE_SPEECH,
    TurnCause.TEXT: pb.TURN_CAUSE_TEXT,
    TurnCause.TRIGGER: pb.TURN_CAUSE_TRIGGER,
    TurnCause.GREETING: pb.TURN_CAUSE_GREETING,
}
_EMOTION: dict[str, int] = {name: i for i, name in enumerate(EMOTIONS)}


def emotion_number(name: str) -> Any:
    # EmotionCategory numbers follow EMOTIONS order (neutral = 0 … disgust = 6).
    # Typed Any: the generated stubs want the enum type, which is an int at run time.
    return _EMOTION.get(name, 0)


def _timings(t: Timings) -> pb.TurnTimings:
    return pb.TurnTimings(**vars(t))


def encode(ev: ServerOut) -> pb.ServerEvent:
    match ev:
        case SessionReadyOut():
            return pb.ServerEvent(
                session_ready=pb.SessionReady(
                    session_id=ev.session_id,
                    input_audio=pb.AudioFormat(
                        sample_rate_hz=ev.input_rate,
                        channels=1,
                        encoding=pb.AUDIO_ENCODING_PCM_S16LE,
                    ),
                    output_audio=pb.AudioFormat(
                        sample_rate_hz=ev.output_rate,
                        channels=1,
                        encoding=pb.AUDIO_ENCODING_PCM_S16LE,
                    ),
                    server_version=__version__,
                    end_of_speech_silence_ms=ev.end_of_speech_silence_ms,
                )
            )
        case SpeechStartedOut():
            return pb.ServerEvent(
                speech_started=pb.SpeechStarted(
                    utterance_id=ev.utterance_id, audio_offset_ms=ev.audio_offset_ms
                )
            )
        case TranscriptOut():
            return pb.ServerEvent(
                user_transcript=pb.UserTranscript(
                    utterance_id=ev.utterance_id,
                    text=ev.text,
                    is_final=ev.is_final,
                    language=ev.language,
                    audio_ms=ev.audio_ms,
                )
            )
        case TurnStartedOut():
            return pb.ServerEvent(
                turn_started=pb.TurnStarted(
                    turn_id=ev.turn_id,
                    cause=_CAUSE[ev.cause],
                    input_text=ev.input_text,
                    utterance_id=ev.utterance_id,
                )
            )
        case TextOut():
            return pb.ServerEvent(npc_text=pb.NpcText(turn_id=ev.turn_id, delta=ev.delta))
        case AudioOut():
            return pb.ServerEvent(
                npc_audio=pb.NpcAudio(
                    turn_id=ev.turn_id,
                    sequence=ev.sequence,
                    pcm=ev.pcm,
                    sample_rate_hz=ev.sample_rate_hz,
                    offset_ms=ev.offset_ms,
                    sentence_index=ev.sentence_index,
                    visemes=[
                        pb.Viseme(
                            id=_enum(v.viseme),
                            start_ms=v.start_ms,
                            duration_ms=v.duration_ms,
                            weight=v.weight,
                        )
                        for v in ev.visemes
                    ],
                )
            )
        case EmotionOut():
            return pb.ServerEvent(
                emotion=pb.Emotion(
                    turn_id=ev.turn_id,
                    category=emotion_number(ev.category),
                    intensity=ev.intensity,
                    trust=ev.trust,
                    affinity=ev.affinity,
                )
            )
        case ActionOut():
            return pb.ServerEvent(
                action_command=pb.ActionCommand(
                    turn_id=ev.turn_id,
                    command_id=ev.command_id,
                    verb=ev.verb,
                    target_id=ev.target_id,
                    arguments=ev.arguments,
                    plan_id=ev.plan_id,
                    step_index=ev.step_index,
                    step_count=ev.step_count,
                )
            )
        case TurnEndOut():
            return pb.ServerEvent(
                turn_end=pb.TurnEnd(
                    turn_id=ev.turn_id,
                    interrupted=ev.interrupted,
                    timings=_timings(ev.timings),
                    text=ev.text,
                    heard_text=ev.heard_text,
                    reason=ev.reason,
                )
            )
        case ErrorOut():
            return error_event(ev.code, ev.message, ev.session_alive, ev.turn_id)
    raise TypeError(f"cannot encode {type(ev).__name__}")


def _enum(number: int) -> Any:
    return number


def error_event(
    code: ErrorCode, message: str, session_alive: bool = True, turn_id: str = ""
) -> pb.ServerEvent:
    return pb.ServerEvent(
        error=pb.Error(
            code=_enum(code.value), message=message, session_alive=session_alive, turn_id=turn_id
        )
    )


def character_info(c: Character) -> pb.CharacterInfo:
    return pb.CharacterInfo(
        id=c.id,
        name=c.name,
        description=c.description,
        language=c.language,
        greeting=c.greeting,
        voice=c.voice.model or "en_US-joe-medium (bundled)",
        verbs=c.actions.verbs,
        baseline_emotion=emotion_number(c.emotion.baseline),
    )
