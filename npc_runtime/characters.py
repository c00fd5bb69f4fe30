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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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


# Built-in verbs of the world's action catalogue (npc_runtime/world/catalogue.py
# gives their parameters, preconditions and effects).
BUILTIN_VERBS: tuple[str, ...] = (
    "move_to",
    "follow",
    "stop",
    "pick_up",
    "put_down",
    "give",
    "open",
    "close",
    "use",
    "look_at",
    "emote",
    "wait",
)
# Sent to the client to cancel a command; no character may declare it.
RESERVED_VERBS = frozenset({"cancel"})
# What a node-valued parameter may name: a node kind, or a trait of the node.
TargetKindName = Literal[
    "place", "object", "npc", "player", "character", "container", "door", "portable", "any"
]
_VERB = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ActionParam(_Strict):
    """A parameter of a game-defined verb, sent to the client as a string argument."""

    type: Literal["string", "number", "node"] = "string"
    description: str = ""
    required: bool = False
    # string: the allowed values (empty = any short string).
    enum: list[str] = []
    max_length: int = Field(32, ge=1, le=200)
    # number: the allowed range.
    minimum: float | None = None
    maximum: float | None = None
    # node: what the scene node may be.
    kinds: list[TargetKindName] = ["any"]


class CustomVerb(_Strict):
    """A game-defined verb: the runtime checks its target and parameters, the game
    performs it (it has no effect on the scene graph until the game sends an update)."""

    description: str = ""
    # What the target may be; empty = the verb takes no target.
    target: list[TargetKindName] = []
    # The NPC must first walk to the target's place (needs move_to among its verbs).
    same_place: bool = False
    params: dict[str, ActionParam] = {}

    @field_validator("params")
    @classmethod
    def _param_names(cls, v: dict[str, ActionParam]) -> dict[str, ActionParam]:
        for name in v:
            if not _VERB.match(name) or name in ("verb", "target"):
                raise ValueError(
                    f"parameter name {name!r}: use lowercase letters, digits and '_', and not "
                    "'verb' or 'target'"
                )
        return v


class Guard(_Strict):
    """A designer's condition on a verb or a target. When a guard matches a step
    (its verb, and its target or target type if given), every condition must hold
    or the plan is refused with `reason`. A guard without conditions always refuses."""

    verb: str = "*"
    # A scene node id the step names as its target or in an argument.
    target: str = ""
    # The target node's type, e.g. "key".
    target_type: str = ""
    min_trust: float | None = Field(None, ge=-1.0, le=1.0)
    min_affinity: float | None = Field(None, ge=-1.0, le=1.0)
    # Narrative flags (set by triggers) that must be set / must not be set.
    flags: list[str] = []
    not_flags: list[str] = []
    # What the character says when refusing; empty = a generic refusal.
    reason: str = Field("", max_length=200)


class ActionsConfig(_Strict):
    # Verbs the character may use: built-in ones and those declared under `custom`.
    verbs: list[str] = []
    custom: dict[str, CustomVerb] = {}
    guards: list[Guard] = []

    @field_validator("custom")
    @classmethod
    def _custom_names(cls, v: dict[str, CustomVerb]) -> dict[str, CustomVerb]:
        for name in v:
            if not _VERB.match(name):
                raise ValueError(
                    f"verb name {name!r}: use lowercase letters, digits and '_' (at most 32)"
                )
            if name in BUILTIN_VERBS or name in RESERVED_VERBS:
                raise ValueError(
                    f"custom verb {name!r} has the name of a built-in verb; choose another name"
                )
        return v

    @model_validator(mode="after")
    def _known_verbs(self) -> ActionsConfig:
        known = set(BUILTIN_VERBS) | set(self.custom)
        for verb in self.verbs:
            if verb not in known:
                raise ValueError(
                    f"unknown verb {verb!r} in verbs: use a built-in verb "
                    f"({', '.join(BUILTIN_VERBS)}) or declare it under [actions.custom.{verb}]"
                )
        for guard in self.guards:
            if guard.verb != "*" and guard.verb not in known:
                raise ValueError(
                    f"a guard names unknown verb {guard.verb!r}: use one of the character's "
                    "verbs or '*'"
                )
        return self


class TriggerSpec(_Strict):
    """How a character takes a named game event (`[triggers.player_looted_store]`)."""

    # Narrative flags the event sets and clears in the world (guards read them).
    flag: str = ""
    clear_flags: list[str] = []
    # Answer at once even when the game did not ask (Trigger.react).
    react: bool = False
    emotion: EmotionName | None = None
    intensity: float = Field(0.7, ge=0.0, le=1.0)
    # Relationship changes towards the player, -1..1.
    trust: float = Field(0.0, ge=-1.0, le=1.0)
    affinity: float = Field(0.0, ge=-1.0, le=1.0)
    # A line to steer the reaction ("You just emptied my shelves!").
    line_hint: str = Field("", max_length=200)
    # How the character remembers it; {param} is filled from the trigger parameters.
    remember: str = Field("", max_length=300)
    # 1 (trivia) .. 10 (life-changing), for memory.
    importance: int = Field(6, ge=1, le=10)
    # What the NPC does at once, as reply actions would ask for it: {verb = "look_at",
    # target = "{source}"}. "{source}" is the trigger's source node, "{player}" the
    # player's. Planned and checked like any other action.
    actions: list[dict[str, str]] = Field([], max_length=3)


class Example(_Strict):
    player: str
    npc: str
    emotion: EmotionName = "neutral"
    # What the NPC does in the example ({verb = "give", target = "bowl", to = "player"}):
    # small models copy the format, so one example with an action teaches them to act.
    actions: list[dict[str, str]] = Field([], max_length=3)


class Character(_Strict):
    id: str
    name: str = Field(min_length=1, max_length=80)
    description: str = Field("", max_length=400)
    language: str = "en"
    persona: str = Field(min_length=10)
    speaking_style: str = ""
    greeting: str = ""
    # Said when speech recognition or the language model takes too long (asr.timeout_s,
    # llm.reply_timeout_s), so the player hears something instead of silence.
    fallback_line: str = Field("Sorry, give me a moment.", min_length=1, max_length=200)
    voice: VoiceConfig = VoiceConfig()
    emotion: EmotionConfig = EmotionConfig()
    knowledge: KnowledgeConfig = KnowledgeConfig()
    actions: ActionsConfig = ActionsConfig()
    triggers: dict[str, TriggerSpec] = {}
    examples: list[Example] = []
    folder: Path = Path()

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("use lowercase letters, digits, '-' or '_' (at most 64)")
        return v

    @model_validator(mode="after")
    def _trigger_actions(self) -> Character:
        for name, spec in self.triggers.items():
            for action in spec.actions:
                verb = action.get("verb", "")
                if verb not in self.actions.verbs:
                    raise ValueError(
                        f"triggers.{name}.actions: verb {verb!r} is not in actions.verbs "
                        f"({', '.join(self.actions.verbs) or 'none'}); add it there or fix the name"
                    )
        return self

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
