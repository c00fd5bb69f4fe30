from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AudioEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_ENCODING_UNSPECIFIED: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_PCM_S16LE: _ClassVar[AudioEncoding]

class NodeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_KIND_UNSPECIFIED: _ClassVar[NodeKind]
    NODE_KIND_PLACE: _ClassVar[NodeKind]
    NODE_KIND_OBJECT: _ClassVar[NodeKind]
    NODE_KIND_NPC: _ClassVar[NodeKind]
    NODE_KIND_PLAYER: _ClassVar[NodeKind]

class RelationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELATION_KIND_UNSPECIFIED: _ClassVar[RelationKind]
    RELATION_KIND_IN: _ClassVar[RelationKind]
    RELATION_KIND_ON: _ClassVar[RelationKind]
    RELATION_KIND_HELD_BY: _ClassVar[RelationKind]
    RELATION_KIND_NEAR: _ClassVar[RelationKind]
    RELATION_KIND_CONNECTED: _ClassVar[RelationKind]

class ActionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_STATUS_UNSPECIFIED: _ClassVar[ActionStatus]
    ACTION_STATUS_SUCCEEDED: _ClassVar[ActionStatus]
    ACTION_STATUS_FAILED: _ClassVar[ActionStatus]
    ACTION_STATUS_CANCELLED: _ClassVar[ActionStatus]
    ACTION_STATUS_STARTED: _ClassVar[ActionStatus]

class TurnCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TURN_CAUSE_UNSPECIFIED: _ClassVar[TurnCause]
    TURN_CAUSE_SPEECH: _ClassVar[TurnCause]
    TURN_CAUSE_TEXT: _ClassVar[TurnCause]
    TURN_CAUSE_TRIGGER: _ClassVar[TurnCause]
    TURN_CAUSE_GREETING: _ClassVar[TurnCause]
    TURN_CAUSE_SCENE: _ClassVar[TurnCause]

class VisemeId(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VISEME_SIL: _ClassVar[VisemeId]
    VISEME_PP: _ClassVar[VisemeId]
    VISEME_FF: _ClassVar[VisemeId]
    VISEME_TH: _ClassVar[VisemeId]
    VISEME_DD: _ClassVar[VisemeId]
    VISEME_KK: _ClassVar[VisemeId]
    VISEME_CH: _ClassVar[VisemeId]
    VISEME_SS: _ClassVar[VisemeId]
    VISEME_NN: _ClassVar[VisemeId]
    VISEME_RR: _ClassVar[VisemeId]
    VISEME_AA: _ClassVar[VisemeId]
    VISEME_E: _ClassVar[VisemeId]
    VISEME_IH: _ClassVar[VisemeId]
    VISEME_OH: _ClassVar[VisemeId]
    VISEME_OU: _ClassVar[VisemeId]

class EmotionCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EMOTION_CATEGORY_NEUTRAL: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_JOY: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_SADNESS: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_ANGER: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_FEAR: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_SURPRISE: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_DISGUST: _ClassVar[EmotionCategory]

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_UNSPECIFIED: _ClassVar[ErrorCode]
    ERROR_CODE_INVALID_ARGUMENT: _ClassVar[ErrorCode]
    ERROR_CODE_NOT_FOUND: _ClassVar[ErrorCode]
    ERROR_CODE_FAILED_PRECONDITION: _ClassVar[ErrorCode]
    ERROR_CODE_RESOURCE_EXHAUSTED: _ClassVar[ErrorCode]
    ERROR_CODE_UNIMPLEMENTED: _ClassVar[ErrorCode]
    ERROR_CODE_INTERNAL: _ClassVar[ErrorCode]
    ERROR_CODE_UNAVAILABLE: _ClassVar[ErrorCode]
    ERROR_CODE_DEADLINE_EXCEEDED: _ClassVar[ErrorCode]
    ERROR_CODE_UNAUTHENTICATED: _ClassVar[ErrorCode]
    ERROR_CODE_PERMISSION_DENIED: _ClassVar[ErrorCode]

class SceneStopReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCENE_STOP_REASON_UNSPECIFIED: _ClassVar[SceneStopReason]
    SCENE_STOP_REASON_MAX_TURNS: _ClassVar[SceneStopReason]
    SCENE_STOP_REASON_MAX_SECONDS: _ClassVar[SceneStopReason]
    SCENE_STOP_REASON_STOP_PHRASE: _ClassVar[SceneStopReason]
    SCENE_STOP_REASON_GOODBYE: _ClassVar[SceneStopReason]
    SCENE_STOP_REASON_CANCELLED: _ClassVar[SceneStopReason]
    SCENE_STOP_REASON_ERROR: _ClassVar[SceneStopReason]
AUDIO_ENCODING_UNSPECIFIED: AudioEncoding
AUDIO_ENCODING_PCM_S16LE: AudioEncoding
NODE_KIND_UNSPECIFIED: NodeKind
NODE_KIND_PLACE: NodeKind
NODE_KIND_OBJECT: NodeKind
NODE_KIND_NPC: NodeKind
NODE_KIND_PLAYER: NodeKind
RELATION_KIND_UNSPECIFIED: RelationKind
RELATION_KIND_IN: RelationKind
RELATION_KIND_ON: RelationKind
RELATION_KIND_HELD_BY: RelationKind
RELATION_KIND_NEAR: RelationKind
RELATION_KIND_CONNECTED: RelationKind
ACTION_STATUS_UNSPECIFIED: ActionStatus
ACTION_STATUS_SUCCEEDED: ActionStatus
ACTION_STATUS_FAILED: ActionStatus
ACTION_STATUS_CANCELLED: ActionStatus
ACTION_STATUS_STARTED: ActionStatus
TURN_CAUSE_UNSPECIFIED: TurnCause
TURN_CAUSE_SPEECH: TurnCause
TURN_CAUSE_TEXT: TurnCause
TURN_CAUSE_TRIGGER: TurnCause
TURN_CAUSE_GREETING: TurnCause
TURN_CAUSE_SCENE: TurnCause
VISEME_SIL: VisemeId
VISEME_PP: VisemeId
VISEME_FF: VisemeId
VISEME_TH: VisemeId
VISEME_DD: VisemeId
VISEME_KK: VisemeId
VISEME_CH: VisemeId
VISEME_SS: VisemeId
VISEME_NN: VisemeId
VISEME_RR: VisemeId
VISEME_AA: VisemeId
VISEME_E: VisemeId
VISEME_IH: VisemeId
VISEME_OH: VisemeId
VISEME_OU: VisemeId
EMOTION_CATEGORY_NEUTRAL: EmotionCategory
EMOTION_CATEGORY_JOY: EmotionCategory
EMOTION_CATEGORY_SADNESS: EmotionCategory
EMOTION_CATEGORY_ANGER: EmotionCategory
EMOTION_CATEGORY_FEAR: EmotionCategory
EMOTION_CATEGORY_SURPRISE: EmotionCategory
EMOTION_CATEGORY_DISGUST: EmotionCategory
ERROR_CODE_UNSPECIFIED: ErrorCode
ERROR_CODE_INVALID_ARGUMENT: ErrorCode
ERROR_CODE_NOT_FOUND: ErrorCode
ERROR_CODE_FAILED_PRECONDITION: ErrorCode
ERROR_CODE_RESOURCE_EXHAUSTED: ErrorCode
ERROR_CODE_UNIMPLEMENTED: ErrorCode
ERROR_CODE_INTERNAL: ErrorCode
ERROR_CODE_UNAVAILABLE: ErrorCode
ERROR_CODE_DEADLINE_EXCEEDED: ErrorCode
ERROR_CODE_UNAUTHENTICATED: ErrorCode
ERROR_CODE_PERMISSION_DENIED: ErrorCode
SCENE_STOP_REASON_UNSPECIFIED: SceneStopReason
SCENE_STOP_REASON_MAX_TURNS: SceneStopReason
SCENE_STOP_REASON_MAX_SECONDS: SceneStopReason
SCENE_STOP_REASON_STOP_PHRASE: SceneStopReason
SCENE_STOP_REASON_GOODBYE: SceneStopReason
SCENE_STOP_REASON_CANCELLED: SceneStopReason
SCENE_STOP_REASON_ERROR: SceneStopReason

class ClientEvent(_message.Message):
    __slots__ = ("session_start", "audio_chunk", "audio_end", "text_input", "trigger", "scene_update", "action_result", "playback_progress", "interrupt", "game_time")
    SESSION_START_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CHUNK_FIELD_NUMBER: _ClassVar[int]
    AUDIO_END_FIELD_NUMBER: _ClassVar[int]
    TEXT_INPUT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SCENE_UPDATE_FIELD_NUMBER: _ClassVar[int]
    ACTION_RESULT_FIELD_NUMBER: _ClassVar[int]
    PLAYBACK_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    INTERRUPT_FIELD_NUMBER: _ClassVar[int]
    GAME_TIME_FIELD_NUMBER: _ClassVar[int]
    session_start: SessionStart
    audio_chunk: AudioChunk
    audio_end: AudioEnd
    text_input: TextInput
    trigger: Trigger
    scene_update: SceneUpdate
    action_result: ActionResult
    playback_progress: PlaybackProgress
    interrupt: Interrupt
    game_time: GameTime
    def __init__(self, session_start: _Optional[_Union[SessionStart, _Mapping]] = ..., audio_chunk: _Optional[_Union[AudioChunk, _Mapping]] = ..., audio_end: _Optional[_Union[AudioEnd, _Mapping]] = ..., text_input: _Optional[_Union[TextInput, _Mapping]] = ..., trigger: _Optional[_Union[Trigger, _Mapping]] = ..., scene_update: _Optional[_Union[SceneUpdate, _Mapping]] = ..., action_result: _Optional[_Union[ActionResult, _Mapping]] = ..., playback_progress: _Optional[_Union[PlaybackProgress, _Mapping]] = ..., interrupt: _Optional[_Union[Interrupt, _Mapping]] = ..., game_time: _Optional[_Union[GameTime, _Mapping]] = ...) -> None: ...

class AudioFormat(_message.Message):
    __slots__ = ("sample_rate_hz", "channels", "encoding")
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    sample_rate_hz: int
    channels: int
    encoding: AudioEncoding
    def __init__(self, sample_rate_hz: _Optional[int] = ..., channels: _Optional[int] = ..., encoding: _Optional[_Union[AudioEncoding, str]] = ...) -> None: ...

class EndpointingOptions(_message.Message):
    __slots__ = ("end_of_speech_silence_ms", "push_to_talk_only")
    END_OF_SPEECH_SILENCE_MS_FIELD_NUMBER: _ClassVar[int]
    PUSH_TO_TALK_ONLY_FIELD_NUMBER: _ClassVar[int]
    end_of_speech_silence_ms: int
    push_to_talk_only: bool
    def __init__(self, end_of_speech_silence_ms: _Optional[int] = ..., push_to_talk_only: _Optional[bool] = ...) -> None: ...

class SessionStart(_message.Message):
    __slots__ = ("character_id", "player_id", "input_audio", "output_audio", "visemes", "language", "scene", "resume_session_id", "endpointing", "greet", "metadata", "text_only", "unpaced_audio", "game_time_hours", "npc_id")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_AUDIO_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_AUDIO_FIELD_NUMBER: _ClassVar[int]
    VISEMES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SCENE_FIELD_NUMBER: _ClassVar[int]
    RESUME_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTING_FIELD_NUMBER: _ClassVar[int]
    GREET_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TEXT_ONLY_FIELD_NUMBER: _ClassVar[int]
    UNPACED_AUDIO_FIELD_NUMBER: _ClassVar[int]
    GAME_TIME_HOURS_FIELD_NUMBER: _ClassVar[int]
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: str
    player_id: str
    input_audio: AudioFormat
    output_audio: AudioFormat
    visemes: bool
    language: str
    scene: SceneSnapshot
    resume_session_id: str
    endpointing: EndpointingOptions
    greet: bool
    metadata: _containers.ScalarMap[str, str]
    text_only: bool
    unpaced_audio: bool
    game_time_hours: float
    npc_id: str
    def __init__(self, character_id: _Optional[str] = ..., player_id: _Optional[str] = ..., input_audio: _Optional[_Union[AudioFormat, _Mapping]] = ..., output_audio: _Optional[_Union[AudioFormat, _Mapping]] = ..., visemes: _Optional[bool] = ..., language: _Optional[str] = ..., scene: _Optional[_Union[SceneSnapshot, _Mapping]] = ..., resume_session_id: _Optional[str] = ..., endpointing: _Optional[_Union[EndpointingOptions, _Mapping]] = ..., greet: _Optional[bool] = ..., metadata: _Optional[_Mapping[str, str]] = ..., text_only: _Optional[bool] = ..., unpaced_audio: _Optional[bool] = ..., game_time_hours: _Optional[float] = ..., npc_id: _Optional[str] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("pcm",)
    PCM_FIELD_NUMBER: _ClassVar[int]
    pcm: bytes
    def __init__(self, pcm: _Optional[bytes] = ...) -> None: ...

class AudioEnd(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TextInput(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Trigger(_message.Message):
    __slots__ = ("name", "parameters", "react", "source_id")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    REACT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    parameters: _containers.ScalarMap[str, str]
    react: bool
    source_id: str
    def __init__(self, name: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., react: _Optional[bool] = ..., source_id: _Optional[str] = ...) -> None: ...

class Vector3(_message.Message):
    __slots__ = ("x", "y", "z")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    z: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[float] = ...) -> None: ...

class SceneNode(_message.Message):
    __slots__ = ("id", "kind", "name", "description", "type", "state", "portable", "container", "hidden", "position")
    class StateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PORTABLE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: NodeKind
    name: str
    description: str
    type: str
    state: _containers.ScalarMap[str, str]
    portable: bool
    container: bool
    hidden: bool
    position: Vector3
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[NodeKind, str]] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[str] = ..., state: _Optional[_Mapping[str, str]] = ..., portable: _Optional[bool] = ..., container: _Optional[bool] = ..., hidden: _Optional[bool] = ..., position: _Optional[_Union[Vector3, _Mapping]] = ...) -> None: ...

class SceneRelation(_message.Message):
    __slots__ = ("subject_id", "kind", "object_id", "distance")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    kind: RelationKind
    object_id: str
    distance: float
    def __init__(self, subject_id: _Optional[str] = ..., kind: _Optional[_Union[RelationKind, str]] = ..., object_id: _Optional[str] = ..., distance: _Optional[float] = ...) -> None: ...

class SceneSnapshot(_message.Message):
    __slots__ = ("world_id", "nodes", "relations")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    nodes: _containers.RepeatedCompositeFieldContainer[SceneNode]
    relations: _containers.RepeatedCompositeFieldContainer[SceneRelation]
    def __init__(self, world_id: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[SceneNode, _Mapping]]] = ..., relations: _Optional[_Iterable[_Union[SceneRelation, _Mapping]]] = ...) -> None: ...

class SceneUpdate(_message.Message):
    __slots__ = ("world_id", "upsert_nodes", "remove_node_ids", "add_relations", "remove_relations", "replace")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    UPSERT_NODES_FIELD_NUMBER: _ClassVar[int]
    REMOVE_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    ADD_RELATIONS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_RELATIONS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    upsert_nodes: _containers.RepeatedCompositeFieldContainer[SceneNode]
    remove_node_ids: _containers.RepeatedScalarFieldContainer[str]
    add_relations: _containers.RepeatedCompositeFieldContainer[SceneRelation]
    remove_relations: _containers.RepeatedCompositeFieldContainer[SceneRelation]
    replace: SceneSnapshot
    def __init__(self, world_id: _Optional[str] = ..., upsert_nodes: _Optional[_Iterable[_Union[SceneNode, _Mapping]]] = ..., remove_node_ids: _Optional[_Iterable[str]] = ..., add_relations: _Optional[_Iterable[_Union[SceneRelation, _Mapping]]] = ..., remove_relations: _Optional[_Iterable[_Union[SceneRelation, _Mapping]]] = ..., replace: _Optional[_Union[SceneSnapshot, _Mapping]] = ...) -> None: ...

class ActionResult(_message.Message):
    __slots__ = ("command_id", "status", "detail")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    status: ActionStatus
    detail: str
    def __init__(self, command_id: _Optional[str] = ..., status: _Optional[_Union[ActionStatus, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class PlaybackProgress(_message.Message):
    __slots__ = ("turn_id", "played_ms", "finished")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYED_MS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    played_ms: int
    finished: bool
    def __init__(self, turn_id: _Optional[str] = ..., played_ms: _Optional[int] = ..., finished: _Optional[bool] = ...) -> None: ...

class GameTime(_message.Message):
    __slots__ = ("hours",)
    HOURS_FIELD_NUMBER: _ClassVar[int]
    hours: float
    def __init__(self, hours: _Optional[float] = ...) -> None: ...

class Interrupt(_message.Message):
    __slots__ = ("turn_id",)
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    def __init__(self, turn_id: _Optional[str] = ...) -> None: ...

class ServerEvent(_message.Message):
    __slots__ = ("session_ready", "speech_started", "user_transcript", "turn_started", "npc_text", "npc_audio", "emotion", "action_command", "turn_end", "error")
    SESSION_READY_FIELD_NUMBER: _ClassVar[int]
    SPEECH_STARTED_FIELD_NUMBER: _ClassVar[int]
    USER_TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    TURN_STARTED_FIELD_NUMBER: _ClassVar[int]
    NPC_TEXT_FIELD_NUMBER: _ClassVar[int]
    NPC_AUDIO_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_COMMAND_FIELD_NUMBER: _ClassVar[int]
    TURN_END_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    session_ready: SessionReady
    speech_started: SpeechStarted
    user_transcript: UserTranscript
    turn_started: TurnStarted
    npc_text: NpcText
    npc_audio: NpcAudio
    emotion: Emotion
    action_command: ActionCommand
    turn_end: TurnEnd
    error: Error
    def __init__(self, session_ready: _Optional[_Union[SessionReady, _Mapping]] = ..., speech_started: _Optional[_Union[SpeechStarted, _Mapping]] = ..., user_transcript: _Optional[_Union[UserTranscript, _Mapping]] = ..., turn_started: _Optional[_Union[TurnStarted, _Mapping]] = ..., npc_text: _Optional[_Union[NpcText, _Mapping]] = ..., npc_audio: _Optional[_Union[NpcAudio, _Mapping]] = ..., emotion: _Optional[_Union[Emotion, _Mapping]] = ..., action_command: _Optional[_Union[ActionCommand, _Mapping]] = ..., turn_end: _Optional[_Union[TurnEnd, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class SessionReady(_message.Message):
    __slots__ = ("session_id", "character", "input_audio", "output_audio", "server_version", "end_of_speech_silence_ms")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_FIELD_NUMBER: _ClassVar[int]
    INPUT_AUDIO_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_AUDIO_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    END_OF_SPEECH_SILENCE_MS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    character: CharacterInfo
    input_audio: AudioFormat
    output_audio: AudioFormat
    server_version: str
    end_of_speech_silence_ms: int
    def __init__(self, session_id: _Optional[str] = ..., character: _Optional[_Union[CharacterInfo, _Mapping]] = ..., input_audio: _Optional[_Union[AudioFormat, _Mapping]] = ..., output_audio: _Optional[_Union[AudioFormat, _Mapping]] = ..., server_version: _Optional[str] = ..., end_of_speech_silence_ms: _Optional[int] = ...) -> None: ...

class SpeechStarted(_message.Message):
    __slots__ = ("utterance_id", "audio_offset_ms")
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIO_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    utterance_id: str
    audio_offset_ms: int
    def __init__(self, utterance_id: _Optional[str] = ..., audio_offset_ms: _Optional[int] = ...) -> None: ...

class UserTranscript(_message.Message):
    __slots__ = ("utterance_id", "text", "is_final", "language", "audio_ms")
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    utterance_id: str
    text: str
    is_final: bool
    language: str
    audio_ms: int
    def __init__(self, utterance_id: _Optional[str] = ..., text: _Optional[str] = ..., is_final: _Optional[bool] = ..., language: _Optional[str] = ..., audio_ms: _Optional[int] = ...) -> None: ...

class TurnStarted(_message.Message):
    __slots__ = ("turn_id", "cause", "input_text", "utterance_id")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    INPUT_TEXT_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    cause: TurnCause
    input_text: str
    utterance_id: str
    def __init__(self, turn_id: _Optional[str] = ..., cause: _Optional[_Union[TurnCause, str]] = ..., input_text: _Optional[str] = ..., utterance_id: _Optional[str] = ...) -> None: ...

class NpcText(_message.Message):
    __slots__ = ("turn_id", "delta")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    delta: str
    def __init__(self, turn_id: _Optional[str] = ..., delta: _Optional[str] = ...) -> None: ...

class Viseme(_message.Message):
    __slots__ = ("id", "start_ms", "duration_ms", "weight")
    ID_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    id: VisemeId
    start_ms: int
    duration_ms: int
    weight: float
    def __init__(self, id: _Optional[_Union[VisemeId, str]] = ..., start_ms: _Optional[int] = ..., duration_ms: _Optional[int] = ..., weight: _Optional[float] = ...) -> None: ...

class NpcAudio(_message.Message):
    __slots__ = ("turn_id", "sequence", "pcm", "sample_rate_hz", "visemes", "offset_ms", "sentence_index")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    VISEMES_FIELD_NUMBER: _ClassVar[int]
    OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    sequence: int
    pcm: bytes
    sample_rate_hz: int
    visemes: _containers.RepeatedCompositeFieldContainer[Viseme]
    offset_ms: int
    sentence_index: int
    def __init__(self, turn_id: _Optional[str] = ..., sequence: _Optional[int] = ..., pcm: _Optional[bytes] = ..., sample_rate_hz: _Optional[int] = ..., visemes: _Optional[_Iterable[_Union[Viseme, _Mapping]]] = ..., offset_ms: _Optional[int] = ..., sentence_index: _Optional[int] = ...) -> None: ...

class Emotion(_message.Message):
    __slots__ = ("turn_id", "category", "intensity", "trust", "affinity")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    TRUST_FIELD_NUMBER: _ClassVar[int]
    AFFINITY_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    category: EmotionCategory
    intensity: float
    trust: float
    affinity: float
    def __init__(self, turn_id: _Optional[str] = ..., category: _Optional[_Union[EmotionCategory, str]] = ..., intensity: _Optional[float] = ..., trust: _Optional[float] = ..., affinity: _Optional[float] = ...) -> None: ...

class ActionCommand(_message.Message):
    __slots__ = ("turn_id", "command_id", "verb", "target_id", "arguments", "plan_id", "step_index", "step_count")
    class ArgumentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    VERB_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    command_id: str
    verb: str
    target_id: str
    arguments: _containers.ScalarMap[str, str]
    plan_id: str
    step_index: int
    step_count: int
    def __init__(self, turn_id: _Optional[str] = ..., command_id: _Optional[str] = ..., verb: _Optional[str] = ..., target_id: _Optional[str] = ..., arguments: _Optional[_Mapping[str, str]] = ..., plan_id: _Optional[str] = ..., step_index: _Optional[int] = ..., step_count: _Optional[int] = ...) -> None: ...

class TurnTimings(_message.Message):
    __slots__ = ("end_of_speech_ms", "asr_ms", "recall_ms", "llm_first_token_ms", "first_sentence_ms", "tts_first_audio_ms", "first_audio_sent_at_ms", "first_text_sent_at_ms", "llm_total_ms", "tts_total_ms", "total_ms", "llm_prompt_tokens", "llm_cached_tokens", "llm_completion_tokens", "audio_ms", "speculative", "asr_wait_ms", "transcript_at_ms", "llm_start_at_ms", "first_sentence_at_ms", "tts_start_at_ms", "first_audio_made_at_ms", "send_wait_ms", "perceive_ms", "plan_ms", "prime_wait_ms", "llm_prompt_read_ms")
    END_OF_SPEECH_MS_FIELD_NUMBER: _ClassVar[int]
    ASR_MS_FIELD_NUMBER: _ClassVar[int]
    RECALL_MS_FIELD_NUMBER: _ClassVar[int]
    LLM_FIRST_TOKEN_MS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SENTENCE_MS_FIELD_NUMBER: _ClassVar[int]
    TTS_FIRST_AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    FIRST_AUDIO_SENT_AT_MS_FIELD_NUMBER: _ClassVar[int]
    FIRST_TEXT_SENT_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LLM_TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    TTS_TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    LLM_PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LLM_CACHED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LLM_COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    SPECULATIVE_FIELD_NUMBER: _ClassVar[int]
    ASR_WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LLM_START_AT_MS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SENTENCE_AT_MS_FIELD_NUMBER: _ClassVar[int]
    TTS_START_AT_MS_FIELD_NUMBER: _ClassVar[int]
    FIRST_AUDIO_MADE_AT_MS_FIELD_NUMBER: _ClassVar[int]
    SEND_WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    PERCEIVE_MS_FIELD_NUMBER: _ClassVar[int]
    PLAN_MS_FIELD_NUMBER: _ClassVar[int]
    PRIME_WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    LLM_PROMPT_READ_MS_FIELD_NUMBER: _ClassVar[int]
    end_of_speech_ms: float
    asr_ms: float
    recall_ms: float
    llm_first_token_ms: float
    first_sentence_ms: float
    tts_first_audio_ms: float
    first_audio_sent_at_ms: float
    first_text_sent_at_ms: float
    llm_total_ms: float
    tts_total_ms: float
    total_ms: float
    llm_prompt_tokens: int
    llm_cached_tokens: int
    llm_completion_tokens: int
    audio_ms: float
    speculative: bool
    asr_wait_ms: float
    transcript_at_ms: float
    llm_start_at_ms: float
    first_sentence_at_ms: float
    tts_start_at_ms: float
    first_audio_made_at_ms: float
    send_wait_ms: float
    perceive_ms: float
    plan_ms: float
    prime_wait_ms: float
    llm_prompt_read_ms: float
    def __init__(self, end_of_speech_ms: _Optional[float] = ..., asr_ms: _Optional[float] = ..., recall_ms: _Optional[float] = ..., llm_first_token_ms: _Optional[float] = ..., first_sentence_ms: _Optional[float] = ..., tts_first_audio_ms: _Optional[float] = ..., first_audio_sent_at_ms: _Optional[float] = ..., first_text_sent_at_ms: _Optional[float] = ..., llm_total_ms: _Optional[float] = ..., tts_total_ms: _Optional[float] = ..., total_ms: _Optional[float] = ..., llm_prompt_tokens: _Optional[int] = ..., llm_cached_tokens: _Optional[int] = ..., llm_completion_tokens: _Optional[int] = ..., audio_ms: _Optional[float] = ..., speculative: _Optional[bool] = ..., asr_wait_ms: _Optional[float] = ..., transcript_at_ms: _Optional[float] = ..., llm_start_at_ms: _Optional[float] = ..., first_sentence_at_ms: _Optional[float] = ..., tts_start_at_ms: _Optional[float] = ..., first_audio_made_at_ms: _Optional[float] = ..., send_wait_ms: _Optional[float] = ..., perceive_ms: _Optional[float] = ..., plan_ms: _Optional[float] = ..., prime_wait_ms: _Optional[float] = ..., llm_prompt_read_ms: _Optional[float] = ...) -> None: ...

class TurnEnd(_message.Message):
    __slots__ = ("turn_id", "interrupted", "timings", "text", "heard_text", "reason")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    HEARD_TEXT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    interrupted: bool
    timings: TurnTimings
    text: str
    heard_text: str
    reason: str
    def __init__(self, turn_id: _Optional[str] = ..., interrupted: _Optional[bool] = ..., timings: _Optional[_Union[TurnTimings, _Mapping]] = ..., text: _Optional[str] = ..., heard_text: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "session_alive", "turn_id")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ALIVE_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    message: str
    session_alive: bool
    turn_id: str
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ..., session_alive: _Optional[bool] = ..., turn_id: _Optional[str] = ...) -> None: ...

class ForgetPlayerRequest(_message.Message):
    __slots__ = ("player_id", "character_id")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    character_id: str
    def __init__(self, player_id: _Optional[str] = ..., character_id: _Optional[str] = ...) -> None: ...

class ForgetPlayerResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class ListCharactersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCharactersResponse(_message.Message):
    __slots__ = ("characters",)
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    characters: _containers.RepeatedCompositeFieldContainer[CharacterInfo]
    def __init__(self, characters: _Optional[_Iterable[_Union[CharacterInfo, _Mapping]]] = ...) -> None: ...

class DescribeCharacterRequest(_message.Message):
    __slots__ = ("character_id",)
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: str
    def __init__(self, character_id: _Optional[str] = ...) -> None: ...

class CharacterInfo(_message.Message):
    __slots__ = ("id", "name", "description", "language", "greeting", "voice", "verbs", "baseline_emotion")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    GREETING_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    VERBS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_EMOTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    language: str
    greeting: str
    voice: str
    verbs: _containers.RepeatedScalarFieldContainer[str]
    baseline_emotion: EmotionCategory
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., language: _Optional[str] = ..., greeting: _Optional[str] = ..., voice: _Optional[str] = ..., verbs: _Optional[_Iterable[str]] = ..., baseline_emotion: _Optional[_Union[EmotionCategory, str]] = ...) -> None: ...

class RunSceneRequest(_message.Message):
    __slots__ = ("cast", "premise", "world_id", "place_id", "max_turns", "max_seconds", "stop_phrases", "output_audio", "visemes", "text_only", "stop_on_goodbye", "player_id", "player_name", "player_role", "player_lines", "max_tokens", "scene_id", "opening_line")
    CAST_FIELD_NUMBER: _ClassVar[int]
    PREMISE_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    PLACE_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    MAX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STOP_PHRASES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_AUDIO_FIELD_NUMBER: _ClassVar[int]
    VISEMES_FIELD_NUMBER: _ClassVar[int]
    TEXT_ONLY_FIELD_NUMBER: _ClassVar[int]
    STOP_ON_GOODBYE_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ROLE_FIELD_NUMBER: _ClassVar[int]
    PLAYER_LINES_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    OPENING_LINE_FIELD_NUMBER: _ClassVar[int]
    cast: _containers.RepeatedScalarFieldContainer[str]
    premise: str
    world_id: str
    place_id: str
    max_turns: int
    max_seconds: int
    stop_phrases: _containers.RepeatedScalarFieldContainer[str]
    output_audio: AudioFormat
    visemes: bool
    text_only: bool
    stop_on_goodbye: bool
    player_id: str
    player_name: str
    player_role: str
    player_lines: _containers.RepeatedCompositeFieldContainer[ScenePlayerLine]
    max_tokens: int
    scene_id: str
    opening_line: str
    def __init__(self, cast: _Optional[_Iterable[str]] = ..., premise: _Optional[str] = ..., world_id: _Optional[str] = ..., place_id: _Optional[str] = ..., max_turns: _Optional[int] = ..., max_seconds: _Optional[int] = ..., stop_phrases: _Optional[_Iterable[str]] = ..., output_audio: _Optional[_Union[AudioFormat, _Mapping]] = ..., visemes: _Optional[bool] = ..., text_only: _Optional[bool] = ..., stop_on_goodbye: _Optional[bool] = ..., player_id: _Optional[str] = ..., player_name: _Optional[str] = ..., player_role: _Optional[str] = ..., player_lines: _Optional[_Iterable[_Union[ScenePlayerLine, _Mapping]]] = ..., max_tokens: _Optional[int] = ..., scene_id: _Optional[str] = ..., opening_line: _Optional[str] = ...) -> None: ...

class ScenePlayerLine(_message.Message):
    __slots__ = ("after_npc_lines", "text")
    AFTER_NPC_LINES_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    after_npc_lines: int
    text: str
    def __init__(self, after_npc_lines: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class SceneEvent(_message.Message):
    __slots__ = ("speaker_id", "event", "summary", "scene_id", "line_index")
    SPEAKER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_INDEX_FIELD_NUMBER: _ClassVar[int]
    speaker_id: str
    event: ServerEvent
    summary: SceneSummary
    scene_id: str
    line_index: int
    def __init__(self, speaker_id: _Optional[str] = ..., event: _Optional[_Union[ServerEvent, _Mapping]] = ..., summary: _Optional[_Union[SceneSummary, _Mapping]] = ..., scene_id: _Optional[str] = ..., line_index: _Optional[int] = ...) -> None: ...

class SceneLineSummary(_message.Message):
    __slots__ = ("index", "speaker_id", "text", "addressed_to", "floor_reason", "started_at_ms", "first_output_ms", "total_ms", "audio_ms", "knowledge_sources", "is_player")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ADDRESSED_TO_FIELD_NUMBER: _ClassVar[int]
    FLOOR_REASON_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    FIRST_OUTPUT_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    KNOWLEDGE_SOURCES_FIELD_NUMBER: _ClassVar[int]
    IS_PLAYER_FIELD_NUMBER: _ClassVar[int]
    index: int
    speaker_id: str
    text: str
    addressed_to: str
    floor_reason: str
    started_at_ms: float
    first_output_ms: float
    total_ms: float
    audio_ms: float
    knowledge_sources: _containers.RepeatedScalarFieldContainer[str]
    is_player: bool
    def __init__(self, index: _Optional[int] = ..., speaker_id: _Optional[str] = ..., text: _Optional[str] = ..., addressed_to: _Optional[str] = ..., floor_reason: _Optional[str] = ..., started_at_ms: _Optional[float] = ..., first_output_ms: _Optional[float] = ..., total_ms: _Optional[float] = ..., audio_ms: _Optional[float] = ..., knowledge_sources: _Optional[_Iterable[str]] = ..., is_player: _Optional[bool] = ...) -> None: ...

class SceneSummary(_message.Message):
    __slots__ = ("scene_id", "reason", "detail", "lines", "first_line_ms", "total_ms")
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    FIRST_LINE_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    scene_id: str
    reason: SceneStopReason
    detail: str
    lines: _containers.RepeatedCompositeFieldContainer[SceneLineSummary]
    first_line_ms: float
    total_ms: float
    def __init__(self, scene_id: _Optional[str] = ..., reason: _Optional[_Union[SceneStopReason, str]] = ..., detail: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[SceneLineSummary, _Mapping]]] = ..., first_line_ms: _Optional[float] = ..., total_ms: _Optional[float] = ...) -> None: ...
