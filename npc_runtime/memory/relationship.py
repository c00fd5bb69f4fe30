"""How a character feels about a player: a small hash the emotion system reads and writes."""

from __future__ import annotations

import time
from typing import TypedDict

from . import keys
from .vectors import Command


class Relationship(TypedDict):
    trust: float  # -1 (distrust) .. 1
    affinity: float  # -1 (dislike) .. 1
    emotion: str
    intensity: float  # 0 .. 1
    updated_at: float  # unix seconds


def default() -> Relationship:
    return {
        "trust": 0.0,
        "affinity": 0.0,
        "emotion": "neutral",
        "intensity": 0.0,
        "updated_at": 0.0,
    }


def parse(raw: dict[str, str]) -> Relationship | None:
    if not raw:
        return None
    d = default()
    return {
        "trust": float(raw.get("trust", d["trust"])),
        "affinity": float(raw.get("affinity", d["affinity"])),
        "emotion": raw.get("emotion", d["emotion"]),
        "intensity": float(raw.get("intensity", d["intensity"])),
        "updated_at": float(raw.get("updated_at", d["updated_at"])),
    }


def set_commands(character_id: str, player_id: str, **values: float | str) -> list[Command]:
    """HSET of the given fields (any of Relationship's), stamping updated_at."""
    allowed = set(Relationship.__annotations__)
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"unknown relationship fields {sorted(unknown)}; use {sorted(allowed)}")
    values.setdefault("updated_at", round(time.time(), 3))
    flat: list[str] = []
    for k, v in values.items():
        flat += [k, str(v)]
    return [("HSET", keys.relationship(character_id, player_id), *flat)]
