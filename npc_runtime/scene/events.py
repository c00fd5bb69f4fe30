"""What a scene says, independent of the wire: each turn event tagged with its
speaker, and the summary at the end (server/codec.py turns them into SceneEvent)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..events import ServerOut


class StopReason(enum.Enum):
    MAX_TURNS = "max_turns"
    MAX_SECONDS = "max_seconds"
    STOP_PHRASE = "stop_phrase"
    GOODBYE = "goodbye"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass
class LineSummary:
    """One line of the scene: who, what, why they had the floor, and its timings."""

    index: int
    speaker_id: str
    text: str
    addressed_to: str = ""
    floor_reason: str = ""
    started_at_ms: float = 0.0  # from the start of the scene
    first_output_ms: float = 0.0  # from the line's start to its first audio (text if no audio)
    total_ms: float = 0.0
    audio_ms: float = 0.0
    knowledge_sources: list[str] = field(default_factory=list)
    is_player: bool = False
    emotion: str = "neutral"


@dataclass
class SceneSummary:
    scene_id: str
    reason: StopReason
    detail: str = ""
    lines: list[LineSummary] = field(default_factory=list)
    first_line_ms: float = 0.0  # from the start to the first line's first audio (or text)
    total_ms: float = 0.0


@dataclass(frozen=True)
class SceneOut:
    """A turn event of one speaker (`event`), or the final `summary`."""

    scene_id: str
    speaker_id: str
    line_index: int
    event: ServerOut | None = None
    summary: SceneSummary | None = None
