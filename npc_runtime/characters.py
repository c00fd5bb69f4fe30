"""Character files (characters/<id>/character.toml) → validated models.

A malformed file fails at load with the file, the field and the fix, so a
designer editing TOML by hand sees exactly what to change.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

EmotionName = Literal["neutral", "joy", "sadness", "anger", "fear", "surprise", "disgust"]
EMOTIONS: tuple[EmotionName, ...] = (
    "neutral",
    "joy",
    "sadness",
    "anger",
    "fear",
    "surprise",
    "disgust",
)
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class CharacterError(Exception):
    """A character file is missing or invalid; the message says where and how to fix it."""


class CharacterNotFound(CharacterError):
    def __init__(self, character_id: str, known: list[str]) -> None:
        self.character_id = character_id
        self.known = known
        super().__init__(
            f"unknown character {character_id!r}; known characters: {', '.join(known) or 'none'}"
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VoiceConfig(_Strict):
    # Path to a piper .onnx voice (relative to the character folder or absolute);
    # empty = the bundled en_US-joe-medium voice.
    model: str = ""
    speaker_id: int | None = Field(None, ge=0)
    # Speaking rate: >1 slower, <1 faster.
    length_scale: float = Field(1.0, ge=0.5, le=2.0)
    # Variation in intonation and timing.
    noise_scale: float = Field(0.667, ge=0.0, le=1.5)
    noise_w_scale: float = Field(0.8, ge=0.0, le=1.5)
    volume: float = Field(1.0, gt=0.0, le=2.0)
    # How far emotion may move rate and variation, as a fraction of the values
    # above (0.15: an angry line is at most 15% faster). 0 = the voice never changes.
    shading: float = Field(0.15, ge=0.0, le=0.5)


class EmotionConfig(_Strict):
    baseline: EmotionName = "neutral"
    intensity: float = Field(0.3, ge=0.0, le=1.0)
    # A feeling's intensity halves every this many seconds on its way back to baseline.
    half_life_s: float = Field(90.0, gt=0.0, le=86_400.0)


class KnowledgeConfig(_Strict):
    # Shared lore collections this character may read, besides its own folder.
    shared: list[str] = []


class ActionsConfig(_Strict):
    # Verbs the character may use; filled in by the world issue.
    verbs: list[str] = []


class Example(_Strict):
    player: str
    npc: str
    emotion: EmotionName = "neutral"


class Character(_Strict):
    id: str
    name: str = Field(min_length=1, max_length=80)
    description: str = Field("", max_length=400)
    language: str = "en"
    persona: str = Field(min_length=10)
    speaking_style: str = ""
    greeting: str = ""
    voice: VoiceConfig = VoiceConfig()
    emotion: EmotionConfig = EmotionConfig()
    knowledge: KnowledgeConfig = KnowledgeConfig()
    actions: ActionsConfig = ActionsConfig()
    examples: list[Example] = []
    folder: Path = Path()

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("use lowercase letters, digits, '-' or '_' (at most 64)")
        return v

    def voice_model_path(self) -> str | None:
        """Absolute voice path, or None for the bundled voice."""
        if not self.voice.model:
            return None
        p = Path(self.voice.model)
        return str(p if p.is_absolute() else (self.folder / p).resolve())


_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
    "literal_error": "use one of the allowed values",
}


def load_character(path: Path) -> Character:
    """Load one character.toml; raises CharacterError naming the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CharacterError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise CharacterError(f"{path}: not valid TOML ({e}); fix the syntax at that line") from None
    data.setdefault("id", path.parent.name)
    data["folder"] = path.parent
    try:
        character = Character.model_validate(data)
    except ValidationError as e:
        lines = [f"{path}: invalid character file"]
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(file)"
            fix = _FIXES.get(err["type"], "correct the value")
            lines.append(f"  field {field}: {err['msg']} — {fix}")
        raise CharacterError("\n".join(lines)) from None
    if character.voice.model and not Path(character.voice_model_path() or "").is_file():
        raise CharacterError(
            f"{path}: field voice.model: {character.voice_model_path()} does not exist — "
            "point it at a piper .onnx voice (with its .onnx.json beside it) or leave it empty "
            "for the bundled voice"
        )
    voice_path = character.voice_model_path()
    if voice_path and not Path(voice_path + ".json").is_file():
        raise CharacterError(
            f"{path}: field voice.model: {voice_path}.json is missing — piper needs the "
            "voice's config file beside the model; download both files of the voice"
        )
    return character


@dataclass
class CharacterStore:
    """All characters under one folder, loaded and validated at start-up."""

    characters: dict[str, Character]

    @classmethod
    def load(cls, folder: Path) -> CharacterStore:
        if not folder.is_dir():
            raise CharacterError(
                f"characters folder {folder} does not exist; set NPC_CHARACTERS_DIR"
            )
        found: dict[str, Character] = {}
        for path in sorted(folder.glob("*/character.toml")):
            c = load_character(path)
            if c.id in found:
                raise CharacterError(f"{path}: id {c.id!r} is already used by another character")
            found[c.id] = c
        if not found:
            raise CharacterError(f"no characters in {folder}: add <id>/character.toml")
        return cls(found)

    def get(self, character_id: str) -> Character:
        try:
            return self.characters[character_id]
        except KeyError:
            raise CharacterNotFound(character_id, self.ids()) from None

    def ids(self) -> list[str]:
        return sorted(self.characters)
