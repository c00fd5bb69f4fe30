"""Running scenes by (world, place), so a player in that place can speak into one.

A Converse session whose player node is in a place where a scene runs hands its
player's final transcripts and text to the scene (SceneInbox.say) instead of
answering them itself; the scene gives the floor to a character to answer.
"""

from __future__ import annotations

from typing import Protocol


class SceneInbox(Protocol):
    @property
    def id(self) -> str: ...

    def say(self, player_id: str, text: str) -> None: ...


class SceneRegistry:
    def __init__(self) -> None:
        self._scenes: dict[tuple[str, str], SceneInbox] = {}

    def add(self, world_id: str, place_id: str, scene: SceneInbox) -> None:
        """Register a running scene; a scene already there keeps the place (first wins)."""
        self._scenes.setdefault((world_id, place_id), scene)

    def remove(self, scene: SceneInbox) -> None:
        for key in [k for k, v in self._scenes.items() if v is scene]:
            del self._scenes[key]

    def find(self, world_id: str, place_id: str | None) -> SceneInbox | None:
        """The scene in this place, or one that runs world-wide (no place given)."""
        if place_id:
            found = self._scenes.get((world_id, place_id))
            if found is not None:
                return found
        return self._scenes.get((world_id, ""))

    def __len__(self) -> int:
        return len(self._scenes)
