"""Worlds by id, shared by every NPC session in the same world.

A World holds the scene graph, the narrative flags triggers set, and a short
memory of recent events (triggers, completed actions) that perception puts in
the prompt. Deltas are applied under a per-world lock so two sessions' updates
never interleave.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from .graph import SceneGraph
from .model import SceneDelta, SceneSnapshot

EventKind = Literal["trigger", "action", "scene"]


@dataclass(frozen=True)
class WorldEvent:
    """Something that happened in the world, as an NPC would remember it."""

    kind: EventKind
    text: str
    name: str = ""  # trigger name or verb
    actor_id: str = ""
    target_id: str = ""
    at: float = field(default_factory=time.time)


@dataclass
class World:
    id: str
    graph: SceneGraph = field(default_factory=SceneGraph)
    flags: set[str] = field(default_factory=set)
    events: deque[WorldEvent] = field(default_factory=lambda: deque(maxlen=64))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def apply(self, delta: SceneDelta) -> None:
        """Apply a delta (or a `replace`) whole, or raise SceneError and change nothing."""
        async with self.lock:
            self.graph.apply(delta)

    async def load(self, snapshot: SceneSnapshot) -> None:
        async with self.lock:
            self.graph.load(snapshot)

    def record(self, event: WorldEvent) -> None:
        self.events.append(event)

    def recent(self, limit: int = 8, max_age_s: float | None = None) -> list[WorldEvent]:
        """Most recent first."""
        now = time.time()
        out: list[WorldEvent] = []
        for ev in reversed(self.events):
            if max_age_s is not None and now - ev.at > max_age_s:
                break
            out.append(ev)
            if len(out) >= limit:
                break
        return out

    def set_flags(self, set_: Iterable[str] = (), clear: Iterable[str] = ()) -> None:
        self.flags.difference_update(clear)
        self.flags.update(set_)


class WorldStore:
    """Every world this server knows; created on first use."""

    def __init__(self, max_events: int = 64) -> None:
        self._worlds: dict[str, World] = {}
        self._max_events = max_events

    def get(self, world_id: str) -> World:
        world = self._worlds.get(world_id)
        if world is None:
            world = World(world_id, events=deque(maxlen=self._max_events))
            self._worlds[world_id] = world
        return world

    def __contains__(self, world_id: object) -> bool:
        return world_id in self._worlds

    def ids(self) -> list[str]:
        return sorted(self._worlds)

    async def load(self, snapshot: SceneSnapshot) -> World:
        world = self.get(snapshot.world_id)
        await world.load(snapshot)
        return world

    async def apply(self, delta: SceneDelta) -> World:
        world = self.get(delta.world_id)
        await world.apply(delta)
        return world

    def drop(self, world_id: str) -> None:
        self._worlds.pop(world_id, None)
