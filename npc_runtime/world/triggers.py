"""Triggers: named game events become world events NPCs remember, and flags.

A character file may declare how it takes an event (`[triggers.player_looted_store]`):
the narrative flag it sets in the world (guards read flags), whether the NPC
reacts at once, the feeling, and a line hint. Events the file does not declare
are still remembered; the emotion and speech side is the session's job.
"""

from __future__ import annotations

import string
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..characters import Character, TriggerSpec
from .rules import label
from .store import World, WorldEvent


@dataclass(frozen=True)
class TriggerOutcome:
    name: str
    event: WorldEvent
    spec: TriggerSpec | None
    flags_set: tuple[str, ...] = ()
    flags_cleared: tuple[str, ...] = ()
    # React at once: the game asked (Trigger.react) or the character file says so.
    react: bool = False
    line_hint: str = ""
    importance: int = 5


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def describe(
    name: str, parameters: Mapping[str, str], spec: TriggerSpec | None, source: str = ""
) -> str:
    """The event in words, from the file's `remember` template or from its name."""
    if spec is not None and spec.remember:
        try:
            return string.Formatter().vformat(
                spec.remember, (), _Keep({**parameters, "source": source})
            )
        except (ValueError, IndexError):
            return spec.remember
    what = name.replace("_", " ").replace(".", " ").strip()
    params = ", ".join(f"{k}: {v}" for k, v in sorted(parameters.items()))
    by = f" ({source})" if source else ""
    return f"{what}{by}" + (f" — {params}" if params else "")


def apply_trigger(
    world: World,
    character: Character,
    name: str,
    parameters: Mapping[str, str] | None = None,
    *,
    react: bool = False,
    source_id: str = "",
    now: float | None = None,
) -> TriggerOutcome:
    """Record the event in the world and set or clear the flags the character declares."""
    params = dict(parameters or {})
    spec = character.triggers.get(name)
    source = label(world.graph, source_id) if source_id else ""
    event = WorldEvent(
        "trigger",
        describe(name, params, spec, source),
        name,
        source_id,
        at=time.time() if now is None else now,
    )
    world.record(event)
    if spec is None:
        return TriggerOutcome(name, event, None, react=react)
    set_ = (spec.flag,) if spec.flag else ()
    cleared = tuple(f for f in spec.clear_flags if f in world.flags)
    world.set_flags(set_, cleared)
    return TriggerOutcome(
        name,
        event,
        spec,
        set_,
        cleared,
        react or spec.react,
        spec.line_hint,
        spec.importance,
    )
