"""What a scene is asked to be: cast, premise, place, player, limits, stop conditions."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_TURNS = 8
DEFAULT_MAX_SECONDS = 120.0
MAX_CAST = 8
MAX_TURNS_LIMIT = 200
MAX_PREMISE_CHARS = 4000

# Words that end a scene when stop_on_goodbye is set.
GOODBYES = ("goodbye", "good bye", "bye", "farewell", "see you", "good night", "take care")


class SceneError(ValueError):
    """A scene request the server cannot run (the message says what to change)."""


@dataclass(frozen=True)
class PlayerLine:
    """The player says `text` once `after_npc_lines` NPC lines were spoken."""

    after_npc_lines: int
    text: str


@dataclass(frozen=True)
class SceneSpec:
    cast: tuple[str, ...]
    premise: str
    world_id: str = ""
    place_id: str = ""
    max_turns: int = DEFAULT_MAX_TURNS  # NPC lines
    max_seconds: float = DEFAULT_MAX_SECONDS
    stop_phrases: tuple[str, ...] = ()
    stop_on_goodbye: bool = False
    player_id: str = ""
    player_name: str = ""
    player_role: str = ""
    player_lines: tuple[PlayerLine, ...] = ()
    output_rate: int = 22_050
    visemes: bool = False
    text_only: bool = False
    max_tokens: int = 0  # 0 = llm.max_tokens
    scene_id: str = ""
    opening_line: str = ""  # the first speaker says this verbatim

    @property
    def player_label(self) -> str:
        return self.player_name or "the player"

    @property
    def player_speaker_id(self) -> str:
        return self.player_id or "player"

    def check(self, known: list[str]) -> None:
        """Raise SceneError unless the scene can run with these characters."""
        if not self.cast:
            raise SceneError("cast is empty: name one to eight character ids")
        if len(self.cast) > MAX_CAST:
            raise SceneError(f"cast has {len(self.cast)} characters; the limit is {MAX_CAST}")
        if len(set(self.cast)) != len(self.cast):
            raise SceneError(f"cast names a character twice: {list(self.cast)}")
        unknown = [c for c in self.cast if c not in known]
        if unknown:
            raise SceneError(
                f"unknown character(s) {unknown} in cast; known: {', '.join(sorted(known))}"
            )
        if not self.premise.strip():
            raise SceneError("premise is empty: say in a sentence or two what the scene is")
        if len(self.premise) > MAX_PREMISE_CHARS:
            raise SceneError(f"premise is over {MAX_PREMISE_CHARS} characters")
        if self.place_id and not self.world_id:
            raise SceneError("place_id needs a world_id: name the world the place is in")
        if not 1 <= self.max_turns <= MAX_TURNS_LIMIT:
            raise SceneError(f"max_turns must be 1 to {MAX_TURNS_LIMIT}")
        if self.max_seconds <= 0:
            raise SceneError("max_seconds must be positive")
        if len(self.opening_line) > 2000:
            raise SceneError("opening_line is over 2000 characters")
        if self.player_id and self.player_id in self.cast:
            raise SceneError(f"player_id {self.player_id!r} is also in the cast")
        for line in self.player_lines:
            if not line.text.strip():
                raise SceneError("a player line is empty")


def says_goodbye(text: str) -> bool:
    low = text.lower()
    return any(_word_in(g, low) for g in GOODBYES)


def stop_phrase_in(text: str, phrases: tuple[str, ...]) -> str:
    low = text.lower()
    return next((p for p in phrases if p.strip() and p.lower() in low), "")


def _word_in(word: str, text: str) -> bool:
    import re

    return re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", text) is not None
