"""Domain events: what sessions and turns say and hear, independent of the wire.

server/codec.py is the only place that turns these into protobuf (gRPC) or
proto3 JSON (WebSocket) and back, so the core never imports generated code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .characters import Character, EmotionName
from .world.executor import ActionCommandOut, ActionResultIn
from .world.model import SceneDelta, SceneSnapshot

# The world's own action messages are the domain events for commands and results.
__all__ = ["ActionCommandOut", "ActionResultIn"]

# --- client → server ---------------------------------------------------------


@dataclass(frozen=True)
class AudioFormatSpec:
    sample_rate_hz: int
    channels: int = 1


@dataclass(frozen=True)
class SessionStartIn:
    character_id: str
    player_id: str = ""
    input_audio: AudioFormatSpec = AudioFormatSpec(16_000)
    output_audio: AudioFormatSpec = AudioFormatSpec(22_050)
    visemes: bool = False
    language: str = ""
    end_of_speech_silence_ms: int = 0
    push_to_talk_only: bool = False
    greet: bool = False
    text_only: bool = False
    unpaced_audio: bool = False
    resume_session_id: str = ""
    scene: SceneSnapshot | None = None
    game_time_hours: float | None = None
    # The NPC's node id in the scene; empty = character_id.
    npc_id: str = ""


@dataclass(frozen=True)
class AudioIn:
    pcm: bytes


@dataclass(frozen=True)
class AudioEndIn:
    pass


@dataclass(frozen=True)
class TextIn:
    text: str


@dataclass(frozen=True)
class PlaybackIn:
    turn_id: str
    played_ms: int
    finished: bool


@dataclass(frozen=True)
class InterruptIn:
    turn_id: str = ""


@dataclass(frozen=True)
class GameTimeIn:
    hours: float


@dataclass(frozen=True)
class TriggerIn:
    """A named game event (`player_looted_store`) with its parameters."""

    name: str
    parameters: dict[str, str] = field(default_factory=dict)
    # Answer at once, with no player speech ("You just emptied my shelves!").
    react: bool = False
    source_id: str = ""


@dataclass(frozen=True)
class SceneUpdateIn:
    """A change to the scene (or a whole new one in delta.replace)."""

    delta: SceneDelta


ClientIn = (
    AudioIn
    | AudioEndIn
    | TextIn
    | PlaybackIn
    | InterruptIn
    | TriggerIn
    | GameTimeIn
    | SceneUpdateIn
    | ActionResultIn
)


# --- server → client ---------------------------------------------------------


class TurnCause(enum.Enum):
    SPEECH = "speech"
    TEXT = "text"
    TRIGGER = "trigger"
    GREETING = "greeting"
    SCENE = "scene"  # a line in a server-directed scene (RunScene)


class ErrorCode(enum.Enum):
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


@dataclass(frozen=True)
class SessionReadyOut:
    session_id: str
    character_id: str
    input_rate: int
    output_rate: int
    end_of_speech_silence_ms: int
    character: Character | None = None


@dataclass(frozen=True)
class SpeechStartedOut:
    utterance_id: str
    audio_offset_ms: int


@dataclass(frozen=True)
class TranscriptOut:
    utterance_id: str
    text: str
    is_final: bool
    language: str
    audio_ms: int


@dataclass(frozen=True)
class TurnStartedOut:
    turn_id: str
    cause: TurnCause
    input_text: str
    utterance_id: str = ""


@dataclass(frozen=True)
class TextOut:
    turn_id: str
    delta: str


@dataclass(frozen=True)
class VisemeOut:
    viseme: int  # VisemeId number (0 = sil … 14 = ou)
    start_ms: int
    duration_ms: int
    weight: float = 1.0


@dataclass(frozen=True)
class AudioOut:
    turn_id: str
    sequence: int
    pcm: bytes
    sample_rate_hz: int
    offset_ms: int
    sentence_index: int
    visemes: tuple[VisemeOut, ...] = ()

    @property
    def duration_ms(self) -> float:
        return 1000.0 * (len(self.pcm) // 2) / self.sample_rate_hz


@dataclass(frozen=True)
class EmotionOut:
    turn_id: str
    category: EmotionName
    intensity: float
    trust: float = 0.0
    affinity: float = 0.0


@dataclass
class Timings:
    """Per-stage milliseconds of one turn; mirrors npc.v1.TurnTimings."""

    end_of_speech_ms: float = 0.0
    asr_ms: float = 0.0
    recall_ms: float = 0.0
    llm_first_token_ms: float = 0.0
    first_sentence_ms: float = 0.0
    tts_first_audio_ms: float = 0.0
    first_audio_sent_at_ms: float = 0.0
    first_text_sent_at_ms: float = 0.0
    llm_total_ms: float = 0.0
    tts_total_ms: float = 0.0
    total_ms: float = 0.0
    llm_prompt_tokens: int = 0
    llm_cached_tokens: int = 0
    llm_completion_tokens: int = 0
    audio_ms: float = 0.0
    speculative: bool = False
    asr_wait_ms: float = 0.0
    transcript_at_ms: float = 0.0
    llm_start_at_ms: float = 0.0
    first_sentence_at_ms: float = 0.0
    tts_start_at_ms: float = 0.0
    first_audio_made_at_ms: float = 0.0
    send_wait_ms: float = 0.0
    perceive_ms: float = 0.0
    plan_ms: float = 0.0
    prime_wait_ms: float = 0.0
    llm_prompt_read_ms: float = 0.0


@dataclass(frozen=True)
class TurnEndOut:
    turn_id: str
    interrupted: bool
    timings: Timings
    text: str
    heard_text: str
    reason: str = ""


@dataclass(frozen=True)
class ErrorOut:
    code: ErrorCode
    message: str
    session_alive: bool = True
    turn_id: str = ""


ServerOut = (
    SessionReadyOut
    | SpeechStartedOut
    | TranscriptOut
    | TurnStartedOut
    | TextOut
    | AudioOut
    | EmotionOut
    | ActionCommandOut
    | TurnEndOut
    | ErrorOut
)

# Events that belong to a turn's media and are dropped once the turn is cancelled.
# Action commands are not among them: the executor tracks each one it sends, and
# cancels a running plan with a command of its own.
MEDIA_EVENTS = (TextOut, AudioOut, EmotionOut)
