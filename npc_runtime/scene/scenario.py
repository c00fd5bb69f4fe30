"""Scenario files (scenarios/<name>.toml): a scene plus the player's part in it.

    title, cast, premise, opening, world_id, place_id, training
    [limits]  max_turns, max_seconds, max_tokens
    [stop]    phrases, on_goodbye
    [player]  id, name, role, lines = [{after = 1, text = "..."}]
    objectives = ["..."]
    [[rubric]] objective, good, poor, points

A malformed file fails with the file, the field and the fix.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .spec import DEFAULT_MAX_SECONDS, DEFAULT_MAX_TURNS, PlayerLine, SceneSpec


class ScenarioError(ValueError):
    """A scenario file is missing or invalid; the message says where and how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    max_turns: int = Field(DEFAULT_MAX_TURNS, ge=1, le=200)
    max_seconds: float = Field(DEFAULT_MAX_SECONDS, gt=0)
    max_tokens: int = Field(0, ge=0, le=2000)


class Stop(_Strict):
    phrases: list[str] = []
    on_goodbye: bool = False


class ScriptedLine(_Strict):
    after: int = Field(ge=0)  # NPC lines spoken before this one
    text: str = Field(min_length=1, max_length=2000)


class Player(_Strict):
    id: str = ""
    name: str = ""
    role: str = ""
    lines: list[ScriptedLine] = []


class RubricItem(_Strict):
    objective: str = Field(min_length=1)
    good: str = ""  # what meeting it looks like
    poor: str = ""  # what missing it looks like
    points: int = Field(2, ge=1, le=10)


class Scenario(_Strict):
    id: str
    title: str = ""
    cast: list[str] = Field(min_length=1)
    premise: str = Field(min_length=1)
    # The first line, said verbatim by the first of the cast.
    opening: str = ""
    world_id: str = ""
    place_id: str = ""
    # A training scenario gets an after-action report graded against its rubric.
    training: bool = False
    limits: Limits = Limits()
    stop: Stop = Stop()
    player: Player = Player()
    objectives: list[str] = []
    rubric: list[RubricItem] = []

    def spec(
        self,
        *,
        max_turns: int | None = None,
        max_seconds: float | None = None,
        max_tokens: int | None = None,
        player_lines: list[str] | None = None,
        text_only: bool = False,
    ) -> SceneSpec:
        """The scene to run; `player_lines` (one after each NPC line) replace the file's."""
        lines = tuple(PlayerLine(p.after, p.text) for p in self.player.lines)
        if player_lines is not None:
            lines = tuple(PlayerLine(i + 1, t) for i, t in enumerate(player_lines) if t.strip())
        return SceneSpec(
            cast=tuple(self.cast),
            premise=self.premise,
            world_id=self.world_id,
            place_id=self.place_id,
            max_turns=max_turns or self.limits.max_turns,
            max_seconds=max_seconds or self.limits.max_seconds,
            stop_phrases=tuple(self.stop.phrases),
            stop_on_goodbye=self.stop.on_goodbye,
            player_id=self.player.id,
            player_name=self.player.name,
            player_role=self.player.role,
            player_lines=lines,
            text_only=text_only,
            max_tokens=max_tokens if max_tokens is not None else self.limits.max_tokens,
            opening_line=self.opening,
        )


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML ({e}); fix the syntax at that line") from None
    data.setdefault("id", path.stem)
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        lines = [f"{path}: invalid scenario file"]
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(file)"
            lines.append(f"  field {field}: {err['msg']}")
        raise ScenarioError("\n".join(lines)) from None
