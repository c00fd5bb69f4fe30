"""Protobuf ⇄ domain events. The only module that imports generated code
(besides the service registration), so the core stays transport-free."""

from __future__ import annotations

import re
from typing import Any

from .. import __version__
from ..audio import AudioFormatError, check_rate
from ..characters import EMOTIONS, Character
from ..events import (
    ActionCommandOut,
    ActionResultIn,
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
    PlaybackIn,
    SceneUpdateIn,
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
from ..scene.events import LineSummary, SceneOut, SceneSummary, StopReason
from ..scene.spec import PlayerLine, SceneSpec
from ..world.executor import ResultStatus
from ..world.model import (
    Node,
    NodeKind,
    Relation,
    RelationKind,
    SceneDelta,
    SceneSnapshot,
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
        scene=_snapshot(s.scene, "session_start.scene") if s.HasField("scene") else None,
        game_time_hours=_game_time(s.game_time_hours),
        npc_id=s.npc_id,
    )


# --- scene -------------------------------------------------------------------

_NODE_KIND = {
    pb.NODE_KIND_PLACE: NodeKind.PLACE,
    pb.NODE_KIND_OBJECT: NodeKind.OBJECT,
    pb.NODE_KIND_NPC: NodeKind.NPC,
    pb.NODE_KIND_PLAYER: NodeKind.PLAYER,
}
_RELATION_KIND = {
    pb.RELATION_KIND_IN: RelationKind.IN,
    pb.RELATION_KIND_ON: RelationKind.ON,
    pb.RELATION_KIND_HELD_BY: RelationKind.HELD_BY,
    pb.RELATION_KIND_NEAR: RelationKind.NEAR,
    pb.RELATION_KIND_CONNECTED: RelationKind.CONNECTED,
}
_MAX_STATE = 32


def _scene_error(where: str, message: str) -> DecodeError:
    return DecodeError(
        ErrorCode.INVALID_ARGUMENT,
        f"{where}: {message}; the scene was not changed",
    )


def _node(n: pb.SceneNode, where: str) -> Node:
    kind = _NODE_KIND.get(n.kind)
    if kind is None:
        raise _scene_error(
            where, f"node {n.id[:80]!r} has no kind: set PLACE, OBJECT, NPC or PLAYER"
        )
    if len(n.state) > _MAX_STATE or any(len(k) > 64 or len(v) > 256 for k, v in n.state.items()):
        raise _scene_error(
            where,
            f"node {n.id[:80]!r}: state is too large (at most {_MAX_STATE} entries, keys up "
            "to 64 and values up to 256 characters)",
        )
    if len(n.name) > 200 or len(n.description) > 1000 or len(n.type) > 64:
        raise _scene_error(
            where,
            f"node {n.id[:80]!r}: name (200), description (1000) or type (64 characters) "
            "is too long",
        )
    p = n.position
    return Node(
        id=n.id,
        kind=kind,
        name=n.name,
        description=n.description,
        type=n.type,
        state=dict(n.state),
        portable=n.portable,
        container=n.container,
        hidden=n.hidden,
        position=(p.x, p.y, p.z) if n.HasField("position") else None,
    )


def _relation(r: pb.SceneRelation, where: str) -> Relation:
    kind = _RELATION_KIND.get(r.kind)
    if kind is None:
        raise _scene_error(
            where,
            f"relation {r.subject_id[:80]!r} → {r.object_id[:80]!r} has no kind: set IN, ON, "
            "HELD_BY, NEAR or CONNECTED",
        )
    return Relation(r.subject_id, kind, r.object_id, r.distance)


def _snapshot(s: pb.SceneSnapshot, where: str) -> SceneSnapshot:
    if not s.world_id:
        raise _scene_error(where, "world_id is empty: name the world the scene belongs to")
    return SceneSnapshot(
        s.world_id,
        [_node(n, where) for n in s.nodes],
        [_relation(r, where) for r in s.relations],
    )


def _scene_update(u: pb.SceneUpdate) -> SceneUpdateIn:
    where = "scene_update"
    replace = _snapshot(u.replace, where + ".replace") if u.HasField("replace") else None
    delta = SceneDelta(
        world_id=u.world_id,
        upsert_nodes=[_node(n, where) for n in u.upsert_nodes],
        remove_node_ids=list(u.remove_node_ids),
        add_relations=[_relation(r, where) for r in u.add_relations],
        remove_relations=[_relation(r, where) for r in u.remove_relations],
        replace=replace,
    )
    if delta.empty:
        raise _scene_error(where, "the update is empty: set replace or at least one change")
    return SceneUpdateIn(delta)


_NODE_KIND_PB = {v: k for k, v in _NODE_KIND.items()}
_RELATION_KIND_PB = {v: k for k, v in _RELATION_KIND.items()}


def encode_node(n: Node) -> pb.SceneNode:
    return pb.SceneNode(
        id=n.id,
        kind=_NODE_KIND_PB[n.kind],
        name=n.name,
        description=n.description,
        type=n.type,
        state=dict(n.state),
        portable=n.portable,
        container=n.container,
        hidden=n.hidden,
        position=pb.Vector3(x=n.position[0], y=n.position[1], z=n.position[2])
        if n.position is not None
        else None,
    )


def encode_relation(r: Relation) -> pb.SceneRelation:
    return pb.SceneRelation(
        subject_id=r.subject_id,
        kind=_RELATION_KIND_PB[r.kind],
        object_id=r.object_id,
        distance=r.distance,
    )


def encode_snapshot(s: SceneSnapshot) -> pb.SceneSnapshot:
    """For clients written in Python (tests, the scene runner, tools)."""
    return pb.SceneSnapshot(
        world_id=s.world_id,
        nodes=[encode_node(n) for n in s.nodes],
        relations=[encode_relation(r) for r in s.relations],
    )


def encode_delta(d: SceneDelta) -> pb.SceneUpdate:
    return pb.SceneUpdate(
        world_id=d.world_id,
        upsert_nodes=[encode_node(n) for n in d.upsert_nodes],
        remove_node_ids=list(d.remove_node_ids),
        add_relations=[encode_relation(r) for r in d.add_relations],
        remove_relations=[encode_relation(r) for r in d.remove_relations],
        replace=encode_snapshot(d.replace) if d.replace is not None else None,
    )


_RESULT_STATUS = {
    pb.ACTION_STATUS_SUCCEEDED: ResultStatus.SUCCEEDED,
    pb.ACTION_STATUS_FAILED: ResultStatus.FAILED,
    pb.ACTION_STATUS_CANCELLED: ResultStatus.CANCELLED,
    pb.ACTION_STATUS_STARTED: ResultStatus.STARTED,
}


def _action_result(r: pb.ActionResult) -> ActionResultIn:
    status = _RESULT_STATUS.get(r.status)
    if not r.command_id:
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            "action_result.command_id is empty: echo the ActionCommand.command_id it answers",
        )
    if status is None:
        raise DecodeError(
            ErrorCode.INVALID_ARGUMENT,
            f"action_result for {r.command_id[:64]!r} has no status: set STARTED, SUCCEEDED, "
            "FAILED or CANCELLED",
        )
    return ActionResultIn(r.command_id, status, r.detail[:500])


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
    if kind == "scene_update":
        return _scene_update(ev.scene_update)
    if kind == "action_result":
        return _action_result(ev.action_result)
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
    TurnCause.SCENE: pb.TURN_CAUSE_SCENE,
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
                    character=character_info(ev.character) if ev.character else None,
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
        case ActionCommandOut():
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


# --- scenes ----------------------------------------------------------------------

_STOP = {
    StopReason.MAX_TURNS: pb.SCENE_STOP_REASON_MAX_TURNS,
    StopReason.MAX_SECONDS: pb.SCENE_STOP_REASON_MAX_SECONDS,
    StopReason.STOP_PHRASE: pb.SCENE_STOP_REASON_STOP_PHRASE,
    StopReason.GOODBYE: pb.SCENE_STOP_REASON_GOODBYE,
    StopReason.CANCELLED: pb.SCENE_STOP_REASON_CANCELLED,
    StopReason.ERROR: pb.SCENE_STOP_REASON_ERROR,
}
STOP_REASON_NAMES = {v: k.value for k, v in _STOP.items()}


def decode_scene(r: pb.RunSceneRequest) -> SceneSpec:
    """RunSceneRequest → SceneSpec (defaults filled in); DecodeError for bad formats.
    SceneSpec.check() judges the rest against the characters the server has."""
    from ..scene.spec import DEFAULT_MAX_SECONDS, DEFAULT_MAX_TURNS

    out = _format(r.output_audio, DEFAULT_OUTPUT_RATE, "output_audio")
    return SceneSpec(
        cast=tuple(r.cast),
        premise=r.premise,
        world_id=r.world_id,
        place_id=r.place_id,
        max_turns=r.max_turns or DEFAULT_MAX_TURNS,
        max_seconds=float(r.max_seconds) or DEFAULT_MAX_SECONDS,
        stop_phrases=tuple(r.stop_phrases),
        stop_on_goodbye=r.stop_on_goodbye,
        player_id=r.player_id,
        player_name=r.player_name,
        player_role=r.player_role,
        player_lines=tuple(PlayerLine(p.after_npc_lines, p.text) for p in r.player_lines),
        output_rate=out.sample_rate_hz,
        visemes=r.visemes,
        text_only=r.text_only,
        max_tokens=r.max_tokens,
        scene_id=r.scene_id,
        opening_line=r.opening_line,
    )


def encode_scene_request(spec: SceneSpec) -> pb.RunSceneRequest:
    return pb.RunSceneRequest(
        cast=list(spec.cast),
        premise=spec.premise,
        world_id=spec.world_id,
        place_id=spec.place_id,
        max_turns=spec.max_turns,
        max_seconds=max(1, round(spec.max_seconds)),
        stop_phrases=list(spec.stop_phrases),
        output_audio=pb.AudioFormat(sample_rate_hz=spec.output_rate, channels=1),
        visemes=spec.visemes,
        text_only=spec.text_only,
        stop_on_goodbye=spec.stop_on_goodbye,
        player_id=spec.player_id,
        player_name=spec.player_name,
        player_role=spec.player_role,
        player_lines=[
            pb.ScenePlayerLine(after_npc_lines=p.after_npc_lines, text=p.text)
            for p in spec.player_lines
        ],
        max_tokens=spec.max_tokens,
        scene_id=spec.scene_id,
        opening_line=spec.opening_line,
    )


def _line_summary(s: LineSummary) -> pb.SceneLineSummary:
    return pb.SceneLineSummary(
        index=s.index,
        speaker_id=s.speaker_id,
        text=s.text,
        addressed_to=s.addressed_to,
        floor_reason=s.floor_reason,
        started_at_ms=s.started_at_ms,
        first_output_ms=s.first_output_ms,
        total_ms=s.total_ms,
        audio_ms=s.audio_ms,
        knowledge_sources=s.knowledge_sources,
        is_player=s.is_player,
    )


def _scene_summary(s: SceneSummary) -> pb.SceneSummary:
    return pb.SceneSummary(
        scene_id=s.scene_id,
        reason=_STOP[s.reason],
        detail=s.detail,
        lines=[_line_summary(line) for line in s.lines],
        first_line_ms=s.first_line_ms,
        total_ms=s.total_ms,
    )


def encode_scene(out: SceneOut) -> pb.SceneEvent:
    ev = pb.SceneEvent(speaker_id=out.speaker_id, scene_id=out.scene_id, line_index=out.line_index)
    if out.event is not None:
        ev.event.CopyFrom(encode(out.event))
    if out.summary is not None:
        ev.summary.CopyFrom(_scene_summary(out.summary))
    return ev
